// Fails unless `npm pack` of clients/js ships exactly what users need: the compiled modules,
// their type declarations, the README, the licence and package.json.
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "../clients/js");
const [report] = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json"], { cwd: pkg, encoding: "utf8" }));
const files = report.files.map((f) => f.path).sort();
const expected = [
  "LICENSE",
  "README.md",
  ...["errors", "index", "protocol", "rules"].flatMap((m) => [`dist/${m}.d.ts`, `dist/${m}.js`]),
  "package.json",
].sort();
if (JSON.stringify(files) !== JSON.stringify(expected)) {
  console.error(`npm pack ships ${JSON.stringify(files)}\nexpected ${JSON.stringify(expected)}`);
  process.exit(1);
}
console.log(`npm pack: ${files.length} files, ${report.size} bytes: ${files.join(", ")}`);
