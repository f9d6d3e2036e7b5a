// Fails when a Markdown file of the repository links to a file or folder that does not exist:
// every relative link `[text](path)` and `[text](path#anchor)`, resolved from the linking file.
// (Links to the web, `mailto:` and bare anchors are left to their readers.)
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SKIP = new Set(["node_modules", "target", ".git", "dist", "fuzz"]);

function* markdownFiles(dir) {
  for (const entry of readdirSync(dir)) {
    if (SKIP.has(entry)) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* markdownFiles(path);
    else if (entry.endsWith(".md")) yield path;
  }
}

const broken = [];
let checked = 0;
for (const file of markdownFiles(ROOT)) {
  // Code blocks hold examples, not links.
  const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#")) continue;
    const path = decodeURIComponent(target.split("#")[0]);
    if (!path) continue;
    checked += 1;
    if (!existsSync(resolve(dirname(file), path))) broken.push(`${relative(ROOT, file)}: ${target}`);
  }
}
if (broken.length > 0) {
  console.error(`links to nothing:\n  ${broken.join("\n  ")}`);
  process.exit(1);
}
console.log(`${checked} relative links in the Markdown files, each to something that exists`);
