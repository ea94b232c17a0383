#!/usr/bin/env node
'use strict';

// Prepares the gitignored demo workspace (.sealed-runner/demo) if missing.
// Runs the TypeScript sources through Backstage's node transform.
require('@backstage/cli/config/nodeTransform.cjs');
const { resolve } = require('node:path');
const { prepareDemo } = require('../src/demo/prepareDemo');

prepareDemo(resolve(__dirname, '../../..'))
  .then(ws => console.log(`Sealed Runner demo workspace ready in ${ws.dir}`))
  .catch(error => {
    console.error(`Could not prepare the demo workspace: ${error.stack}`);
    process.exit(1);
  });
