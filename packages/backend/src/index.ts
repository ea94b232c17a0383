import { createBackend } from '@backstage/backend-defaults';
import { demoApproverSignInModule } from './modules/demoApproverSignIn';
import { localGitUrlReaderFactory } from './modules/localGitUrlReader';
import { sealedRunnerPermissionPolicyModule } from './modules/permissionPolicy';

const backend = createBackend();

backend.add(import('@backstage/plugin-app-backend'));
// Lets the catalog read entities from branches of the demo's local repositories.
backend.add(localGitUrlReaderFactory);

backend.add(import('@backstage/plugin-auth-backend'));
backend.add(import('@backstage/plugin-auth-backend-module-guest-provider'));
backend.add(demoApproverSignInModule);

backend.add(import('@backstage/plugin-catalog-backend'));
backend.add(
  import('@backstage/plugin-catalog-backend-module-scaffolder-entity-model'),
);
backend.add(import('@backstage/plugin-catalog-backend-module-logs'));

backend.add(import('@backstage/plugin-permission-backend'));
backend.add(sealedRunnerPermissionPolicyModule);

backend.add(import('@backstage/plugin-scaffolder-backend'));

backend.add(import('@sealed-runner/backstage-plugin-sealed-runner-backend'));

backend.add(
  import(
    '@sealed-runner/backstage-plugin-scaffolder-backend-module-sealed-runner'
  ),
);
backend.add(
  import(
    '@sealed-runner/backstage-plugin-catalog-backend-module-sealed-runner'
  ),
);
// A backend that refused its config (or failed to start a plugin) must
// exit, not linger half-started answering 503s.
backend.start().catch(error => {
  process.stderr.write(`Backend failed to start: ${error?.stack ?? error}\n`);
  process.exit(1);
});
