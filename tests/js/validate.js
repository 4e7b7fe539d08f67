// Validate GLB/glTF files with the Khronos glTF-Validator (npm package "gltf-validator").
// Usage: node validate.js FILE.glb [FILE2.glb ...]
// Prints one JSON line per file: {"file", "numErrors", "numWarnings", "errors": [...]}
// Exit code: 0 when every file has zero errors, 1 otherwise, 3 when the validator is not installed.
"use strict";
const fs = require("fs");
const path = require("path");

let validator;
try {
  validator = require("gltf-validator");
} catch (e) {
  console.error("gltf-validator is not installed: run `npm ci --prefix tests/js`");
  process.exit(3);
}

async function validateOne(file) {
  const bytes = new Uint8Array(fs.readFileSync(file));
  const report = await validator.validateBytes(bytes, {
    uri: path.basename(file),
    maxIssues: 100,
    externalResourceFunction: (uri) =>
      new Promise((resolve, reject) => {
        fs.readFile(path.join(path.dirname(file), decodeURIComponent(uri)), (err, data) =>
          err ? reject(err.toString()) : resolve(new Uint8Array(data)));
      }),
  });
  const issues = report.issues;
  const errors = issues.messages.filter((m) => m.severity === 0);
  const warnings = issues.messages.filter((m) => m.severity === 1);
  return { file, numErrors: issues.numErrors, numWarnings: issues.numWarnings, errors, warnings };
}

(async () => {
  let failed = false;
  for (const file of process.argv.slice(2)) {
    const r = await validateOne(file);
    if (r.numErrors > 0) failed = true;
    console.log(JSON.stringify(r));
  }
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.error(String(e));
  process.exit(2);
});
