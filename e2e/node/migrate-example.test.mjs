// The migration example (crates/socketioxide-jwt/examples/migrate_from_node.rs) keeps the
// promises of docs/MIGRATING-FROM-NODE.md, built alone as a user builds it
// (`cargo build -p socketioxide-jwt --example migrate_from_node`, no workspace features):
// socket.io-client 1.7.4 and 2.5.0 (Engine.IO v3) authenticate at the Node server's path, over
// polling then upgrade, and an AngularJS page of the seed's kind loads the client with
// `<script src="/socket.io-client/socket.io.js">` from the Rust server, as Node's serveClient
// served it, and authenticates in Chromium.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";
import ioV1 from "socket.io-client-v1";
import ioV2 from "socket.io-client-v2";

import { CHROMIUM, CHROMIUM_ARGS, TEST_SECRET, freePort, nextEvent, testToken } from "./demo-server.mjs";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const EXAMPLE = process.env.MIGRATE_EXAMPLE_BIN ?? join(REPO, "target/debug/examples/migrate_from_node");
const CLIENT_JS = join(REPO, "e2e/node/node_modules/socket.io-client-v2/dist/socket.io.js");
const WAIT = 15_000;

/** Starts the example on a free port; resolves once it printed where it listens. */
async function startExample() {
  assert.ok(existsSync(EXAMPLE), `${EXAMPLE} is missing: cargo build -p socketioxide-jwt --example migrate_from_node`);
  const port = await freePort();
  const child = spawn(EXAMPLE, [], {
    env: { ...process.env, JWT_SECRET: TEST_SECRET, SOCKET_IO_CLIENT_JS: CLIENT_JS, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the example did not start: ${output}`)), WAIT);
    const read = (chunk) => {
      output += chunk;
      if (output.includes(`listening on http://127.0.0.1:${port}`)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.on("exit", (code) => reject(new Error(`the example exited (${code}): ${output}`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill("SIGKILL") };
}

const next = (socket, event) => nextEvent(socket, event, WAIT);

let example;
before(async () => {
  example = await startExample();
});
after(() => example?.stop());

describe("migrate_from_node serves the clients the guide promises", () => {
  for (const [name, io] of [
    ["socket.io-client@1.7.4", ioV1],
    ["socket.io-client@2.5.0", ioV2],
  ]) {
    test(`${name}, polling then upgrade: authenticate, whoami, a broadcast`, async () => {
      const socket = io(example.url, { path: "/socket.io-client", reconnection: false, forceNew: true });
      try {
        await next(socket, "connect");
        socket.emit("authenticate", { token: testToken("alice") });
        await next(socket, "authenticated");
        const me = await new Promise((resolve) => socket.emit("whoami", {}, resolve));
        assert.equal(me.sub, "alice");
        const heard = next(socket, "chat message");
        socket.emit("chat message", { text: `hello from ${name}` });
        assert.deepEqual(await heard, { from: "alice", text: `hello from ${name}` });
      } finally {
        socket.close();
      }
    });
  }

  test("the client script is served where Node's serveClient served it", async () => {
    const res = await fetch(`${example.url}/socket.io-client/socket.io.js`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /javascript/);
    assert.equal(await res.text(), await readFile(CLIENT_JS, "utf8"));
  });

  test("an AngularJS page loading the client with a <script> tag authenticates in Chromium", async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (scripts/test.sh does)`);
    // The page is the seed-style client of the browser test, with the script tag a page of a
    // Node server with serveClient has; the REST login it calls first answers a token signed
    // with the example's secret (the example has no login of its own).
    const html = (await readFile(join(REPO, "e2e/node/seed-client/index.html"), "utf8")).replace(
      '<script src="/seed/socket.io.js"></script>',
      '<script src="/socket.io-client/socket.io.js"></script>',
    );
    assert.match(html, /src="\/socket.io-client\/socket.io.js"/);
    const files = {
      "index.html": { body: html, contentType: "text/html" },
      "app.js": { path: join(REPO, "e2e/node/seed-client/app.js") },
      "angular.js": { path: join(REPO, "e2e/node/node_modules/angular/angular.js") },
      "angular-socket-io.js": { path: join(REPO, "e2e/node/node_modules/angular-socket-io/socket.js") },
    };
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      // A page routed by playwright has no IP address space: Local Network Access checks would
      // block its socket to 127.0.0.1 (see browser.test.mjs).
      args: [...CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks"],
    });
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(WAIT);
      const errors = [];
      page.on("pageerror", (e) => errors.push(e));
      await page.route(`${example.url}/seed/**`, (route) => {
        const file = files[new URL(route.request().url()).pathname.replace("/seed/", "")];
        return file ? route.fulfill(file) : route.fulfill({ status: 404 });
      });
      await page.route(`${example.url}/login`, (route) =>
        route.fulfill({ json: { token: testToken(JSON.parse(route.request().postData()).username) } }),
      );
      const script = page.waitForResponse(`${example.url}/socket.io-client/socket.io.js`);
      await page.goto(`${example.url}/seed/index.html?user=bob&password=unused`);
      assert.equal((await script).status(), 200);
      await page.waitForFunction(() => window.seed?.state() === "authenticated");
      assert.equal((await page.evaluate(() => window.seed.whoami())).sub, "bob");
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});
