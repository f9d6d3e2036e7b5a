// Fails unless the JS client package (clients/js) installs as the README says and ships exactly
// what users need:
// - `npm pack` ships the compiled modules, their type declarations, the browser build, the
//   README, the licence and package.json;
// - the tarball installs into an empty project (beside socket.io-client) and imports;
// - the folder of a checkout (built) installs into another empty project and imports.
// The browser build is loaded by a plain HTML page in Chromium in e2e/node/browser.test.mjs.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "../clients/js");
const npm = (args, cwd) => execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
const fail = (message) => {
  console.error(message);
  process.exit(1);
};

const [report] = JSON.parse(npm(["pack", "--dry-run", "--json", "--ignore-scripts"], pkg));
const files = report.files.map((f) => f.path).sort();
const expected = [
  "LICENSE",
  "README.md",
  ...["errors", "index", "inputs", "protocol", "rules", "state-machine"].flatMap((m) => [`dist/${m}.d.ts`, `dist/${m}.js`]),
  "dist/socketioxide-jwt-client.browser.js",
  "package.json",
].sort();
if (JSON.stringify(files) !== JSON.stringify(expected)) {
  fail(`npm pack ships ${JSON.stringify(files)}\nexpected ${JSON.stringify(expected)}`);
}
console.log(`npm pack: ${files.length} files, ${report.size} bytes: ${files.join(", ")}`);

/** An empty npm project in a temporary folder. */
function emptyProject() {
  const dir = mkdtempSync(join(tmpdir(), "npm-install-"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  return dir;
}

/** Imports the package in `dir` as an application would, and checks what it exports. */
function importsIn(dir, how) {
  const out = execFileSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { AuthSocket, AuthError } from "socketioxide-jwt-client";
       import { io } from "socket.io-client";
       if (typeof AuthSocket !== "function" || typeof AuthError !== "function" || typeof io !== "function") process.exit(1);
       const auth = new AuthSocket({ url: "http://127.0.0.1:9", getToken: async () => "t" });
       console.log(auth.state);`,
    ],
    { cwd: dir, encoding: "utf8" },
  ).trim();
  if (out !== "idle") fail(`${how}: a new AuthSocket is in state ${JSON.stringify(out)}, not "idle"`);
  console.log(`${how}: installs into an empty project and imports`);
}

const work = mkdtempSync(join(tmpdir(), "npm-pack-"));
try {
  // From a tarball, as the registry would serve it (`prepack` builds dist/ first).
  npm(["pack", "--pack-destination", work, "--silent"], pkg);
  const [tarball] = readdirSync(work).filter((f) => f.endsWith(".tgz"));
  if (!tarball) fail("npm pack made no tarball");
  const fromTarball = emptyProject();
  npm(["install", "--no-audit", "--no-fund", "--silent", join(work, tarball), "socket.io-client@4.8.4"], fromTarball);
  importsIn(fromTarball, `the tarball ${tarball}`);
  rmSync(fromTarball, { recursive: true, force: true });

  // From the folder of a checkout, built (npm links it).
  const fromFolder = emptyProject();
  npm(["install", "--no-audit", "--no-fund", "--silent", pkg, "socket.io-client@4.8.4"], fromFolder);
  importsIn(fromFolder, "the folder clients/js");
  rmSync(fromFolder, { recursive: true, force: true });
} finally {
  rmSync(work, { recursive: true, force: true });
}
