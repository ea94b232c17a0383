import { randomUUID } from 'node:crypto';
import { homedir } from 'node:os';
import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import { DefaultAwsCredentialsManager } from '@backstage/integration-aws-node';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { sealedRunnerPermissions } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  RunDispatcher,
  sealedRunnerDispatchExtensionPoint,
  sealedRunnerTargetChecksExtensionPoint,
  sealedRunnerTargetResourceRef,
  sealedRunnerTargetRules,
  TargetCheck,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';
import {
  resolveBranch,
  resolveTags,
} from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import { readSealedRunnerConfig } from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { DatabaseRunStore } from './database/DatabaseRunStore';
import { DatabaseBreakGlassStore } from './database/DatabaseBreakGlassStore';
import { DatabaseModulePinStore } from './database/DatabaseModulePinStore';
import { DatabaseTargetClaimStore } from './database/DatabaseTargetClaimStore';
import {
  securePrivateSqliteDirectory,
  securePrivateSqliteFiles,
  sqliteFileOf,
} from './database/sqliteFiles';
import { createModulePinService } from './services/ModulePins/createModulePinService';
import { createBreakGlassService } from './services/BreakGlassService/createBreakGlassService';
import {
  BUILT_IN_RUNNER_TYPES,
  builtInDispatcher,
} from './dispatch/builtInDispatcher';
import { createJobSigner } from './services/JobSigner/createJobSigner';
import { createTargetResourceLoader } from './permissions';
import { createRouter } from './http/router';
import { createRunService } from './services/RunService/createRunService';
import { createRunSupervisor } from './services/RunSupervisor/RunSupervisor';
import { createTargetResolver } from './services/TargetResolver/TargetResolver';

/**
 * The Sealed Runner gate: the only path from the catalog to a deploy.
 *
 * @public
 */
export const sealedRunnerPlugin = createBackendPlugin({
  pluginId: 'sealed-runner',
  register(env) {
    const dispatchers = new Map<string, RunDispatcher>();
    const targetChecks: TargetCheck[] = [];
    env.registerExtensionPoint(sealedRunnerDispatchExtensionPoint, {
      addDispatcher(type, dispatcher) {
        if (dispatchers.has(type)) {
          throw new Error(
            `A sealed-runner dispatcher for runner type '${type}' is already registered`,
          );
        }
        dispatchers.set(type, dispatcher);
      },
    });
    env.registerExtensionPoint(sealedRunnerTargetChecksExtensionPoint, {
      addTargetCheck(check) {
        targetChecks.push(check);
      },
    });

    env.registerInit({
      deps: {
        rootConfig: coreServices.rootConfig,
        logger: coreServices.logger,
        database: coreServices.database,
        httpRouter: coreServices.httpRouter,
        httpAuth: coreServices.httpAuth,
        auth: coreServices.auth,
        permissions: coreServices.permissions,
        permissionsRegistry: coreServices.permissionsRegistry,
        userInfo: coreServices.userInfo,
        auditor: coreServices.auditor,
        scheduler: coreServices.scheduler,
        lifecycle: coreServices.lifecycle,
        catalog: catalogServiceRef,
      },
      async init(deps) {
        const { logger, auth, catalog } = deps;
        const config = readSealedRunnerConfig(deps.rootConfig);
        if (!config.modules?.locations) {
          logger.warn(
            'sealedRunner.modules.locations is not set: a module entity from any catalog location can be vetted (an entity claims its own owner)',
          );
        }
        const sqliteFile = sqliteFileOf(deps.rootConfig, 'sealed-runner');
        if (sqliteFile) {
          await securePrivateSqliteDirectory(sqliteFile, logger);
        }
        const store = await DatabaseRunStore.create({
          database: deps.database,
          logLimits: config.runner.logs,
        });

        const awsCredentials = DefaultAwsCredentialsManager.fromConfig(
          deps.rootConfig,
        );
        const signer = await createJobSigner({
          config: config.jobSigning,
          awsCredentials,
          logger,
        });
        const runnerType = config.runner.type;
        // The dispatcher receives every signed job: a module taking over a
        // built-in runner type must be asked for by name, and is loud.
        if (
          dispatchers.has(runnerType) &&
          BUILT_IN_RUNNER_TYPES.includes(runnerType)
        ) {
          if (!config.runner.allowReplacingBuiltIn) {
            throw new Error(
              `A backend module registered a dispatcher for the built-in runner type '${runnerType}'; it would receive every signed job. Set sealedRunner.runner.allowReplacingBuiltIn: true if you installed that module to replace it, or remove the module.`,
            );
          }
          logger.warn(
            `SECURITY: the built-in '${runnerType}' runner is replaced by a backend module's dispatcher (sealedRunner.runner.allowReplacingBuiltIn: true); every signed job goes to it`,
          );
        }
        if (!dispatchers.has(runnerType)) {
          const builtIn = await builtInDispatcher({
            config,
            signer,
            awsCredentials,
            logger,
          });
          if (builtIn) {
            dispatchers.set(runnerType, builtIn);
          }
        }
        const dispatcher = dispatchers.get(runnerType);
        if (!dispatcher) {
          throw new Error(
            `sealedRunner.runner.type is '${runnerType}', but no module provides that runner type (available: ${
              [...dispatchers.keys()].join(', ') || 'none'
            })`,
          );
        }

        const supervisor = createRunSupervisor({
          store,
          dispatcher,
          logger,
          auditor: deps.auditor,
          instanceId: randomUUID(),
          heartbeatTimeoutSeconds: config.runner.heartbeatTimeoutSeconds,
          timeoutSeconds: config.runner.timeoutSeconds,
          signer,
        });
        if (!config.targets?.locations) {
          logger.warn(
            'sealedRunner.targets.locations is not set: an entity from any catalog location can declare deployable targets (the first to declare a folder owns it)',
          );
        }
        const targets = createTargetResolver({
          catalog,
          auth,
          logger,
          config,
          targetChecks,
          claims: await DatabaseTargetClaimStore.create({
            database: deps.database,
          }),
        });
        const breakGlassService = createBreakGlassService({
          store: await DatabaseBreakGlassStore.create({
            database: deps.database,
          }),
          targets,
          permissions: deps.permissions,
          auth,
          auditor: deps.auditor,
          config,
        });
        const runService = createRunService({
          store,
          targets,
          supervisor,
          // git ls-remote as the backend's service account (its ssh keys);
          // global and system git config are ignored.
          resolveBranch: (repository, branch) =>
            resolveBranch(repository, branch, { home: homedir() }),
          permissions: deps.permissions,
          auth,
          userInfo: deps.userInfo,
          auditor: deps.auditor,
          logger,
          config,
          breakGlass: breakGlassService,
          sandboxed: dispatcher.sandboxed !== false,
          modulePins: createModulePinService({
            store: await DatabaseModulePinStore.create({
              database: deps.database,
            }),
            resolveTags: repository =>
              resolveTags(repository, { home: homedir() }),
            auditor: deps.auditor,
            logger,
          }),
        });

        if (sqliteFile) {
          await securePrivateSqliteFiles(sqliteFile);
        }
        deps.permissionsRegistry.addResourceType({
          resourceRef: sealedRunnerTargetResourceRef,
          permissions: sealedRunnerPermissions,
          rules: Object.values(sealedRunnerTargetRules),
          getResources: createTargetResourceLoader({ catalog, auth }),
        });
        deps.httpRouter.use(
          await createRouter({
            httpAuth: deps.httpAuth,
            auth,
            logStreams: config.logStreams,
            runService,
            breakGlassService,
          }),
        );
        deps.httpRouter.addAuthPolicy({
          path: '/health',
          allow: 'unauthenticated',
        });

        await deps.scheduler.scheduleTask({
          id: 'sealed-runner-reconcile',
          frequency: { seconds: config.runner.reconcileIntervalSeconds },
          timeout: { minutes: 2 },
          initialDelay: { seconds: 1 },
          fn: () => supervisor.reconcile(),
        });
        // Expired sessions are refused whether or not this has run; it
        // records (and audits) each expiry once, on one replica.
        await deps.scheduler.scheduleTask({
          id: 'sealed-runner-break-glass-expiry',
          scope: 'global',
          frequency: { seconds: 30 },
          timeout: { minutes: 1 },
          initialDelay: { seconds: 5 },
          fn: async () => {
            await breakGlassService.expireSessions();
          },
        });
        deps.lifecycle.addShutdownHook(() => supervisor.stop());
      },
    });
  },
});
