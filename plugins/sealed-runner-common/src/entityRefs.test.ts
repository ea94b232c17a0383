import { entityRefKey, includesEntityRef, sameEntityRef } from './entityRefs';

describe('entity refs', () => {
  it.each([
    ['user:default/pat', 'user:default/pat', true],
    ['user:default/Pat', 'USER:DEFAULT/pat', true],
    ['group:default/platform-team', 'group:default/Platform-Team', true],
    // The Turkish dotless i: compared in one fixed locale, never the host's.
    ['user:default/ITEM', 'user:default/item', true],
    ['user:default/pat', 'user:default/pat2', false],
    ['user:default/pat', 'group:default/pat', false],
    ['user:default/pat', 'user:other/pat', false],
    ['user:default/pat', 'service:user:default/pat', false],
    ['user:default/pat', '', false],
  ])('sameEntityRef(%j, %j) is %s', (a, b, same) => {
    expect(sameEntityRef(a, b)).toBe(same);
    expect(sameEntityRef(b, a)).toBe(same);
  });

  it('keys a ref by its lower-case form', () => {
    expect(entityRefKey('Component:Default/Payments')).toBe(
      'component:default/payments',
    );
  });

  it.each([
    [['group:default/platform-team'], 'group:default/Platform-Team', true],
    [['user:default/erin', 'group:default/a'], 'group:default/A', true],
    [['group:default/platform-team'], 'group:default/platform', false],
    [[], 'user:default/pat', false],
  ])('includesEntityRef(%j, %j) is %s', (refs, ref, included) => {
    expect(includesEntityRef(refs, ref)).toBe(included);
  });
});
