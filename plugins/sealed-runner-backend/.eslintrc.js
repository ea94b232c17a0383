module.exports = require('@backstage/cli/config/eslint-factory')(__dirname, {
  rules: {
    // Integration tests assert through expectError(), which wraps expect().
    'jest/expect-expect': ['warn', { assertFunctionNames: ['expect', 'expectError'] }],
  },
});
