module.exports = require('@backstage/cli/config/eslint-factory')(__dirname, {
  rules: {
    // Tests assert through helpers named expect…(), which wrap expect().
    'jest/expect-expect': [
      'warn',
      { assertFunctionNames: ['expect', 'expect*'] },
    ],
  },
});
