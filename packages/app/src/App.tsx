import { createApp } from '@backstage/frontend-defaults';
import catalogPlugin from '@backstage/plugin-catalog/alpha';
import sealedRunnerPlugin from '@sealed-runner/backstage-plugin-sealed-runner/alpha';
import { navModule } from './modules/nav';
import { signInModule } from './modules/signIn';

export default createApp({
  features: [catalogPlugin, sealedRunnerPlugin, navModule, signInModule],
});
