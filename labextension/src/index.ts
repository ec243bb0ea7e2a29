/**
 * jupyter-mlops for JupyterLab: the MLOps sidebar, file-browser and sidebar context menus,
 * command palette entries and a status bar item, over the server extension's REST API.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { IStatusBar } from '@jupyterlab/statusbar';

import { CommandIDs, addCommands } from './commands';
import { MlopsSidebar } from './sidebar';
import { MlopsState } from './state';
import { DeploymentStatus } from './status';

const PALETTE = [
  CommandIDs.openSidebar,
  CommandIDs.refresh,
  CommandIDs.register,
  CommandIDs.build,
  CommandIDs.deploy,
  CommandIDs.update,
  CommandIDs.undeploy,
  CommandIDs.regenKey,
  CommandIDs.open,
  CommandIDs.snippet
];

const SIDEBAR_MENUS: [string, string[]][] = [
  ['.jp-mlops-model-version', [CommandIDs.deploy]],
  ['.jp-mlops-image', [CommandIDs.deploy]],
  [
    '.jp-mlops-deployment',
    [CommandIDs.open, CommandIDs.snippet, CommandIDs.update, CommandIDs.regenKey, CommandIDs.undeploy]
  ]
];

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlops:plugin',
  description: 'MLOps sidebar, context menus, palette and status bar for jupyter-mlops.',
  autoStart: true,
  optional: [ICommandPalette, IFileBrowserFactory, INotebookTracker, IRenderMimeRegistry, IStatusBar, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    browsers: IFileBrowserFactory | null,
    notebooks: INotebookTracker | null,
    rendermime: IRenderMimeRegistry | null,
    statusBar: IStatusBar | null,
    restorer: ILayoutRestorer | null
  ) => {
    const state = new MlopsState();
    const sidebar = new MlopsSidebar(state, app.commands);
    app.shell.add(sidebar, 'left', { rank: 850 });
    restorer?.add(sidebar, sidebar.id);
    addCommands({ app, state, sidebarId: sidebar.id, browsers, notebooks, rendermime });

    for (const command of PALETTE) {
      palette?.addItem({ command, category: 'MLOps' });
    }
    app.contextMenu.addItem({ command: CommandIDs.register, selector: '.jp-DirListing-item[data-isdir]', rank: 20 });
    app.contextMenu.addItem({ command: CommandIDs.build, selector: '.jp-DirListing-item[data-isdir="false"]', rank: 21 });
    SIDEBAR_MENUS.forEach(([selector, commands], group) =>
      commands.forEach((command, rank) =>
        app.contextMenu.addItem({ command, selector, rank: group * 10 + rank, args: { context: true } })
      )
    );

    if (statusBar) {
      const status = new DeploymentStatus(state);
      status.node.onclick = () => void app.commands.execute(CommandIDs.openSidebar);
      statusBar.registerStatusItem('jupyter-mlops:status', { item: status, align: 'left', rank: 50 });
    }
  }
};

export default plugin;
