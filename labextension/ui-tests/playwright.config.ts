/**
 * Galata (Playwright Test) against a running `jupyter lab` that tests/lab_ui/test_lab_ui.py starts:
 * TARGET_URL and JUPYTER_TOKEN say where, MLOPS_ARTIFACTS where screenshots go, CHROMIUM which
 * browser (Debian's: Playwright's own downloads are not used).
 */
const base = require('@jupyterlab/galata/lib/playwright-config');

const artifacts = process.env.MLOPS_ARTIFACTS ?? 'test-results';

module.exports = {
  ...base,
  testDir: '.',
  outputDir: `${artifacts}/playwright`,
  reporter: [['list']],
  timeout: 150000,
  retries: 0,
  workers: 1,
  use: {
    ...base.use,
    baseURL: process.env.TARGET_URL,
    extraHTTPHeaders: { Authorization: `token ${process.env.JUPYTER_TOKEN ?? ''}` },
    launchOptions: { executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium' },
    viewport: { width: 1400, height: 850 },
    video: 'off',
    trace: 'off',
    screenshot: 'only-on-failure',
    serverFiles: 'off'
  }
};
