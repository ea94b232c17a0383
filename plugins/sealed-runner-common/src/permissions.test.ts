import {
  breakGlassPermission,
  parseTargetRef,
  runApplyPermission,
  runApprovePermission,
  runCancelPermission,
  runPlanPermission,
  runReadPermission,
  SEALED_RUNNER_TARGET_RESOURCE_TYPE,
  lockReleasePermission,
  sealedRunnerPermissions,
  stringifyTargetRef,
} from './permissions';

describe('target refs', () => {
  it.each([
    ['component:default/payments', 'dev'],
    ['component:payments', 'prod'],
    ['resource:platform/vpc', 'eu-west-1'],
  ])('round-trips %s in %s', (entityRef, environment) => {
    const ref = stringifyTargetRef({ entityRef, environment });
    expect(ref).toBe(`${entityRef}#${environment}`);
    expect(parseTargetRef(ref)).toEqual({ entityRef, environment });
  });

  it('splits on the last #', () => {
    expect(parseTargetRef('component:default/x#a#dev')).toEqual({
      entityRef: 'component:default/x#a',
      environment: 'dev',
    });
  });

  it.each([
    ['an empty ref', ''],
    ['a ref without environment separator', 'component:default/x'],
    ['a ref without entity', '#dev'],
    ['a ref without environment', 'component:default/x#'],
    ['a lone #', '#'],
  ])('refuses %s', (_, ref) => {
    expect(parseTargetRef(ref)).toBeUndefined();
  });
});

describe('sealedRunnerPermissions', () => {
  it('lists every permission of the suite', () => {
    expect(sealedRunnerPermissions).toEqual(
      expect.arrayContaining([
        runReadPermission,
        runPlanPermission,
        runApplyPermission,
        runApprovePermission,
        runCancelPermission,
        breakGlassPermission,
        lockReleasePermission,
      ]),
    );
  });

  it('has unique names', () => {
    const names = sealedRunnerPermissions.map(p => p.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(sealedRunnerPermissions.map(p => [p.name, p]))(
    '%s is a sealed-runner target permission',
    (name, permission) => {
      expect(name).toMatch(/^sealed-runner\./);
      expect(permission).toMatchObject({
        type: 'resource',
        resourceType: SEALED_RUNNER_TARGET_RESOURCE_TYPE,
      });
      expect(SEALED_RUNNER_TARGET_RESOURCE_TYPE).toBe('sealed-runner-target');
    },
  );

  // Policies rely on the names and the action attribute: only reading is a read.
  it.each([
    ['sealed-runner.run.read', runReadPermission, 'read'],
    ['sealed-runner.run.plan', runPlanPermission, 'create'],
    ['sealed-runner.run.apply', runApplyPermission, 'update'],
    ['sealed-runner.run.approve', runApprovePermission, 'update'],
    ['sealed-runner.run.cancel', runCancelPermission, 'update'],
    ['sealed-runner.breakglass', breakGlassPermission, 'update'],
  ])('%s', (name, permission, action) => {
    expect(permission.name).toBe(name);
    expect(permission.attributes.action).toBe(action);
  });
});
