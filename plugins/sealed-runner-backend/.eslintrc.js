module.exports = require('@backstage/cli/config/eslint-factory')(__dirname, {
  rules: {
    // Integration tests assert through expectError() and expectDenied(), which wrap expect().
    'jest/expect-expect': [
      'warn',
      { assertFunctionNames: ['expect', 'expectError', 'expectDenied'] },
    ],
  },
});
