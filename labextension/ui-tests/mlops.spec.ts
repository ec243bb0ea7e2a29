/**
 * The MLOps sidebar in a real JupyterLab over a real workspace (prepared by the pytest that runs
 * this): list, register from the file browser, deploy from the sidebar, score from a notebook
 * snippet, undeploy. Screenshots go to MLOPS_ARTIFACTS.
 */
import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';

const artifacts = process.env.MLOPS_ARTIFACTS ?? 'test-results';
const modelFile = process.env.MLOPS_MODEL_FILE ?? '';

// Galata re-sends Lab's kernel/session/terminal requests itself to track them; while the server
// restarts those fail and fail the test. The pytest that runs this stops the server (and kernels).
test.use({
  kernels: async ({}, use) => use(null),
  sessions: async ({}, use) => use(null),
  terminals: async ({}, use) => use(null)
} as any);

test('sidebar lists, registers, deploys, scores from a snippet and undeploys', async ({ page, tmpPath }) => {
  const sidebar = page.locator('#jupyter-mlops-sidebar');
  const shot = (name: string) => page.screenshot({ path: `${artifacts}/${name}.png` });

  await test.step('the sidebar lists what the workspace holds', async () => {
    await page.sidebar.openTab('jupyter-mlops-sidebar');
    await expect(sidebar.locator('.jp-mlops-model[data-model="fraud"] .jp-mlops-model-version')).toHaveCount(2);
    await expect(sidebar.locator('.jp-mlops-model-version[data-model="fraud"][data-version="2"]')).toContainText(
      'stage=prod'
    );
    await expect(sidebar.locator('.jp-mlops-image[data-image="fraud-svc:1"]')).toContainText('fraud:1');
    await expect(sidebar.locator('[data-section="deployments"]')).toContainText('none yet');
    await expect(page.locator('.jp-mlops-Status')).toHaveText('MLOps: 0 healthy · 0 unhealthy');
    await shot('01-sidebar');
  });

  await test.step('the sidebar survives a server restart', async () => {
    // JupyterLab's own "Server Connection Error" dialog may pop up at any later moment: close it.
    await page.addLocatorHandler(page.locator('.jp-Dialog', { hasText: 'Server Connection Error' }), async dialog => {
      await dialog.getByRole('button', { name: 'Close' }).click();
    });
    fs.writeFileSync(process.env.MLOPS_RESTART_FILE ?? '', 'restart');
    await expect(page.locator('.jp-mlops-Status')).toHaveText('MLOps: server unreachable', { timeout: 20000 });
    await expect(sidebar.locator('.jp-mlops-error')).toBeVisible();
    await shot('01b-server-restarting');
    await expect(page.locator('.jp-mlops-Status')).toHaveText('MLOps: 0 healthy · 0 unhealthy', { timeout: 60000 });
    await expect(sidebar.locator('.jp-mlops-error')).toHaveCount(0);
    await expect(sidebar.locator('.jp-mlops-model[data-model="fraud"] .jp-mlops-model-version')).toHaveCount(2);
  });

  await test.step('register a model from the file browser', async () => {
    await page.contents.uploadFile(modelFile, `${tmpPath}/churn.onnx`);
    await page.sidebar.openTab('filebrowser');
    await page.filebrowser.refresh();
    await page.locator('.jp-DirListing-item', { hasText: 'churn.onnx' }).click({ button: 'right' });
    await page.getByRole('menuitem', { name: 'Register Model…' }).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('input[name="name"]')).toHaveValue('churn');
    await dialog.locator('input[name="tags"]').fill('stage=dev, owner=ui');
    await shot('02-register-dialog');
    await dialog.getByRole('button', { name: 'Register' }).click();
    await page.sidebar.openTab('jupyter-mlops-sidebar');
    await expect(sidebar.locator('.jp-mlops-model-version[data-model="churn"][data-version="1"]')).toContainText(
      'owner=ui'
    );
  });

  await test.step('build an image from a score.py in the file browser', async () => {
    const script = 'def init():\n    pass\n\n\ndef run(data):\n    return {"echo": data}\n';
    await page.contents.uploadContent(script, 'text', `${tmpPath}/score.py`);
    await page.sidebar.openTab('filebrowser');
    await page.filebrowser.refresh();
    await page.locator('.jp-DirListing-item', { hasText: 'score.py' }).click({ button: 'right' });
    await page.getByRole('menuitem', { name: 'Build Image…' }).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('input[name="script"]')).toHaveValue(`${tmpPath}/score.py`);
    await dialog.locator('input[name="name"]').fill('echo');
    await dialog.locator('input[name="models"]').fill('churn:1');
    await dialog.locator('input[name="no_docker"]').check();
    await dialog.getByRole('button', { name: 'Build' }).click();
    await page.sidebar.openTab('jupyter-mlops-sidebar');
    await expect(sidebar.locator('.jp-mlops-image[data-image="echo:1"]')).toContainText('context', { timeout: 60000 });
  });

  await test.step('deploy it from the sidebar; the state dot turns healthy', async () => {
    await sidebar.locator('.jp-mlops-model-version[data-model="churn"]').getByRole('button', { name: 'Deploy…' }).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('select[name="image"]')).toHaveValue('new image from churn:1');
    await dialog.locator('select[name="target"]').selectOption('process');
    await dialog.locator('input[name="collect"]').check();
    await shot('03-deploy-dialog');
    await dialog.getByRole('button', { name: 'Deploy' }).click();
    const deployment = sidebar.locator('.jp-mlops-deployment[data-deployment="churn"]');
    await expect(deployment.locator('.jp-mlops-dot')).toHaveClass(/jp-mlops-state-healthy/, { timeout: 90000 });
    await expect(deployment.locator('.jp-mlops-uri')).toContainText(/^http:\/\/127\.0\.0\.1:\d+\/score$/);
    await expect(page.locator('.jp-mlops-Status')).toHaveText('MLOps: 1 healthy · 0 unhealthy');
    await shot('04-deployed');
  });

  await test.step('regenerate a key from the deployment context menu', async () => {
    await sidebar.locator('.jp-mlops-deployment[data-deployment="churn"] .jp-mlops-uri').click({ button: 'right' });
    await page.getByRole('menuitem', { name: 'Regenerate Deployment Key…' }).click();
    const dialog = page.locator('.jp-Dialog');
    await dialog.locator('select').selectOption('secondary');
    await dialog.getByRole('button', { name: 'OK' }).click();
    await expect(page.getByText('Regenerated the secondary key of churn.')).toBeVisible();
  });

  await test.step('update it to another image from the command palette', async () => {
    await page.keyboard.press('Control+Shift+C');
    await page.locator('.lm-CommandPalette-input').fill('Update Deployment to Another');
    await page.keyboard.press('Enter');
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('select')).toHaveValue('churn');
    await dialog.getByRole('button', { name: 'OK' }).click();
    await dialog.locator('select').selectOption('fraud-svc:1');
    await dialog.getByRole('button', { name: 'OK' }).click();
    const deployment = sidebar.locator('.jp-mlops-deployment[data-deployment="churn"]');
    await expect(deployment).toContainText('fraud-svc:1', { timeout: 60000 });
    await expect(deployment.locator('.jp-mlops-dot')).toHaveClass(/jp-mlops-state-healthy/);
  });

  await test.step('the inserted snippet runs in a notebook and scores', async () => {
    await page.notebook.createNew('score.ipynb');
    await sidebar.locator('.jp-mlops-deployment[data-deployment="churn"]').getByRole('button', { name: 'Snippet' }).click();
    await expect(page.locator('.jp-Cell').first()).toContainText('mlops.get_deployment("churn")');
    await page.notebook.runCell(0);
    const output = page.locator('.jp-Cell').first().locator('.jp-OutputArea-output');
    await expect(output).toContainText('probabilities', { timeout: 60000 });
    await shot('05-snippet-scored');
  });

  await test.step('the deployment panel opens in the main area', async () => {
    await sidebar.locator('.jp-mlops-deployment[data-deployment="churn"] .jp-mlops-link').click();
    const panel = page.locator('.jp-mlops-Panel');
    await expect(panel.locator('.jp-mlops-panel-head')).toContainText('healthy · process · image fraud-svc:1');
    await expect(panel.locator('.jp-mlops-events')).toContainText('secondary key regenerated');
    await expect(panel.locator('.jp-mlops-events')).toContainText('now serving image fraud-svc:1');
    await expect(panel.locator('.jp-mlops-panel-board .js-plotly-plot')).toBeVisible({ timeout: 30000 });
    await shot('06-deployment-panel');
  });

  await test.step('undeploy from the sidebar', async () => {
    await sidebar.locator('.jp-mlops-deployment[data-deployment="churn"]').getByRole('button', { name: 'Undeploy' }).click();
    await page.locator('.jp-Dialog').getByRole('button', { name: 'Undeploy' }).click();
    await expect(sidebar.locator('[data-section="deployments"]')).toContainText('none yet', { timeout: 30000 });
    await expect(page.locator('.jp-mlops-Status')).toHaveText('MLOps: 0 healthy · 0 unhealthy');
    await shot('07-undeployed');
  });
});
