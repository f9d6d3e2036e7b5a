// The demo page in real headless Chromium (Debian's chromium, driven by playwright-core).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chmod, copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { CHROMIUM, CHROMIUM_ARGS, DEMO_BIN, adminRevoke, adminSetRooms, freePort, startDemo, until } from "./demo-server.mjs";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const WAIT = 15_000;

let browser;
before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (scripts/test.sh does)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});
after(() => browser?.close());

/** A fresh browser context (its own cookies and storage): one person. `initScript` runs first. */
async function person(url, initScript) {
  const context = await browser.newContext({ viewport: { width: 900, height: 560 } });
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(url);
  return { page, context, errors };
}

async function logIn(page, username, password) {
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click("#login-button");
}

const status = (page) => page.locator("#status");

for (const mode of ["message", "handshake"]) {
  describe(`demo page, ${mode} mode`, () => {
    let demo;
    before(async () => {
      demo = await startDemo(["--mode", mode]);
    });
    after(() => demo.stop());

    test("log in, see authenticated, and two people chat", async () => {
      const alice = await person(demo.url);
      const bob = await person(demo.url);
      await logIn(alice.page, "alice", "wonderland");
      await status(alice.page).filter({ hasText: "authenticated as alice" }).waitFor();
      assert.equal(await status(alice.page).getAttribute("data-state"), "authenticated");
      await logIn(bob.page, "bob", "builder");
      await status(bob.page).filter({ hasText: "authenticated as bob" }).waitFor();

      // Presence from the per-user rooms.
      await alice.page.locator("#users li", { hasText: "bob" }).waitFor();
      await bob.page.locator("#users li", { hasText: "alice" }).waitFor();

      await alice.page.fill("#message", "Hello Bob, the socket knows it is me.");
      await alice.page.click("#send");
      await bob.page.locator("#messages li", { hasText: "alice Hello Bob" }).waitFor();
      await bob.page.fill("#message", "Hi Alice! Same token, both sides.");
      await bob.page.click("#send");
      await alice.page.locator("#messages li", { hasText: "bob Hi Alice" }).waitFor();

      if (mode === "message") {
        await alice.page.screenshot({ path: join(REPO, "docs/screenshot.png") });
      }
      // Bob leaves: Alice sees it.
      await bob.context.close();
      await alice.page.waitForFunction(
        () => ![...document.querySelectorAll("#users li")].some((li) => li.textContent === "bob"),
      );
      assert.deepEqual(alice.errors, []);
      await alice.context.close();
    });

    test("a wrong password shows an error and does not connect", async () => {
      const { page, context } = await person(demo.url);
      await logIn(page, "alice", "not-her-password");
      const error = page.locator("#login-error");
      await error.waitFor({ state: "visible" });
      assert.equal(await error.textContent(), "Wrong username or password.");
      assert.equal(await status(page).getAttribute("data-state"), "idle");
      assert.equal(await page.locator("#chat-view").isHidden(), true);
      await context.close();
    });

    test("a tampered token is refused with a visible reason", async () => {
      const { page, context } = await person(demo.url);
      await logIn(page, "alice", "wonderland");
      await status(page).filter({ hasText: "authenticated as alice" }).waitFor();
      await page.evaluate(() => {
        const token = sessionStorage.getItem("chat-demo-token");
        const [h, p, s] = token.split(".");
        const payload = JSON.parse(atob(p.replace(/-/g, "+").replace(/_/g, "/")));
        payload.sub = "admin"; // claim to be someone else, keep the signature
        const forged = btoa(JSON.stringify(payload)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
        sessionStorage.setItem("chat-demo-token", `${h}.${forged}.${s}`);
      });
      await page.reload();
      await page.locator("#status[data-state=unauthorized]").waitFor();
      assert.match(await status(page).textContent(), /invalid_token/);
      const box = page.locator("#socket-error");
      await box.waitFor({ state: "visible" });
      assert.equal(await box.getAttribute("data-code"), "invalid_token");
      assert.match(await box.textContent(), /Your token was rejected/);
      await context.close();
    });
  });
}

test("a short-lived token is refreshed while the page stays connected", async () => {
  const demo = await startDemo(["--token-ttl-secs", "3"]);
  try {
    const { page, context, errors } = await person(demo.url);
    await page.evaluate(() => {
      window.__states = [];
    });
    await logIn(page, "alice", "wonderland");
    await status(page).filter({ hasText: "authenticated as alice" }).waitFor();
    await page.evaluate(() => {
      new MutationObserver(() => window.__states.push(document.getElementById("status").dataset.state)).observe(
        document.getElementById("status"),
        { attributes: true },
      );
    });
    // Three refreshes take the page well past the first token's 3 s lifetime.
    await page.waitForFunction(() => Number(document.getElementById("refresh-count").textContent) >= 3, null, {
      timeout: 20_000,
    });
    assert.equal(await status(page).getAttribute("data-state"), "authenticated");
    const states = await page.evaluate(() => window.__states);
    assert.ok(!states.some((s) => s !== "authenticated"), `the page left the authenticated state: ${states}`);
    await page.fill("#message", "still here");
    await page.click("#send");
    await page.locator("#messages li", { hasText: "alice still here" }).waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await demo.stop();
  }
});

test("--token-cookie: the page works with the HttpOnly cookie alone (no token in storage), across reloads, refreshes and a second tab; logout clears it", async () => {
  const demo = await startDemo(["--mode", "handshake", "--token-cookie", "chat_token", "--token-ttl-secs", "4"]);
  try {
    const { page, context, errors } = await person(demo.url);
    await logIn(page, "alice", "wonderland");
    await status(page).filter({ hasText: "authenticated as alice" }).waitFor();
    const [cookie] = (await context.cookies()).filter((c) => c.name === "chat_token");
    assert.ok(cookie, "set by /login");
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, "Strict");
    assert.equal(cookie.path, "/");
    // The page holds no token: none in its storage, the cookie out of its scripts' reach.
    assert.equal(await page.evaluate(() => sessionStorage.length + localStorage.length), 0);
    assert.equal(await page.evaluate(() => document.cookie.includes("chat_token")), false);
    // Refreshes keep it connected past the 4 s token (in-band, with a fresh cookie each time).
    await page.waitForFunction(() => Number(document.getElementById("refresh-count").textContent) >= 2, null, {
      timeout: 20_000,
    });
    assert.equal(await status(page).getAttribute("data-state"), "authenticated");
    // A reload, and a second tab: the cookie alone authenticates them.
    await page.reload();
    await status(page).filter({ hasText: "authenticated as alice" }).waitFor();
    const tab = await context.newPage();
    await tab.goto(demo.url);
    await status(tab).filter({ hasText: "authenticated as alice" }).waitFor();
    await tab.fill("#message", "from the second tab");
    await tab.click("#send");
    await page.locator("#messages li", { hasText: "alice from the second tab" }).waitFor();
    // Logout clears the cookie: a reload shows the login form.
    await page.click("#logout");
    await until(async () => !(await context.cookies()).some((c) => c.name === "chat_token" && c.value), "cookie cleared");
    await page.reload();
    await page.locator("#login-view").waitFor({ state: "visible" });
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await demo.stop();
  }
});

describe("the page never fails silently", () => {
  test("a binary copied out of the source tree serves a working page (scripts embedded)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "chat-demo-copy-"));
    try {
      const bin = join(dir, "chat-demo");
      await copyFile(DEMO_BIN, bin);
      await chmod(bin, 0o755);
      const demo = await startDemo([], { bin, cwd: dir });
      try {
        const { page, context, errors } = await person(demo.url);
        await logIn(page, "alice", "wonderland");
        await status(page).filter({ hasText: "authenticated as alice" }).waitFor();
        assert.ok(await page.locator("#load-error").isHidden());
        assert.deepEqual(errors, []);
        await context.close();
      } finally {
        await demo.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a binary built without the JS client says so on the page and at startup", async () => {
    // Built by scripts/test.sh with CHAT_DEMO_JS_CLIENT pointing at nothing.
    const bin = process.env.CHAT_DEMO_NO_CLIENT_BIN ?? join(REPO, "target/chat-demo-without-js-client");
    assert.ok(existsSync(bin), `${bin} is missing: scripts/test.sh builds it`);
    const output = [];
    const demo = await startDemo([], { bin, output });
    try {
      // The banner's lines after "listening on" may still be on their way.
      const says = () => output.some((l) => /THE PAGE CANNOT WORK: .*built without the page's JS client/.test(l));
      await until(says, "the banner to say the page cannot work", 5_000).catch(() => {});
      assert.ok(says(), output.join("\n"));
      const { page, context } = await person(demo.url);
      const box = page.locator("#build-error");
      await box.waitFor({ state: "visible" });
      assert.match(await box.textContent(), /\.\/scripts\/demo\.sh/);
      await context.close();
    } finally {
      await demo.stop();
    }
  });

  test("scripts that fail to load are reported on the page", async () => {
    const demo = await startDemo();
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(WAIT);
      // The JS client's module fails to load (as when a proxy or a stale cache breaks it).
      await page.route("**/vendor/socketioxide-jwt-client/**", (route) => route.fulfill({ status: 404, body: "" }));
      await page.goto(demo.url);
      await page.locator("#load-error").waitFor({ state: "visible" });
      await context.close();
    } finally {
      await demo.stop();
    }
  });
});

describe("clients that recover by themselves", () => {
  /**
   * A page whose timers of 1 s or more never fire: what a background tab (intensive throttling)
   * or a sleeping device does to a refresh timer. Shorter timers and everything else run.
   */
  async function throttledPerson(url) {
    return person(url, () => {
      const realSetTimeout = window.setTimeout;
      window.__deferredTimers = 0;
      window.setTimeout = (fn, ms, ...args) => {
        if (ms >= 1000) {
          window.__deferredTimers += 1;
          return 0;
        }
        return realSetTimeout(fn, ms, ...args);
      };
    });
  }

  async function watchStates(page) {
    await page.evaluate(() => {
      window.__states = [];
      new MutationObserver(() => window.__states.push(document.getElementById("status").dataset.state)).observe(
        document.getElementById("status"),
        { attributes: true },
      );
    });
  }

  test("with its timers throttled, the page keeps its socket across several expiries thanks to token_expiring", async () => {
    const demo = await startDemo(["--token-ttl-secs", "4", "--expiry-warning-secs", "2"]);
    try {
      const { page, context, errors } = await throttledPerson(demo.url);
      const handshakes = [];
      page.on("request", (r) => /\/socket\.io\/.*EIO=4/.test(r.url()) && !/sid=/.test(r.url()) && handshakes.push(r.url()));
      await logIn(page, "alice", "wonderland");
      await status(page).filter({ hasText: "authenticated as alice" }).waitFor();
      await watchStates(page);
      // Three refreshes of 4 s tokens: past the first token's expiry, on the server's warning only.
      await page.waitForFunction(() => Number(document.getElementById("refresh-count").textContent) >= 3, null, {
        timeout: 20_000,
      });
      assert.ok((await page.evaluate(() => window.__deferredTimers)) > 0, "the client's own refresh timer never fired");
      assert.equal(await status(page).getAttribute("data-state"), "authenticated");
      const states = await page.evaluate(() => window.__states);
      assert.ok(!states.some((s) => s !== "authenticated"), `the page left the authenticated state: ${states}`);
      assert.equal(handshakes.length, 1, "one connection all along");
      assert.deepEqual(errors, []);
      await context.close();
    } finally {
      await demo.stop();
    }
  });

  test("the same throttled page without the warning loses its socket at the first expiry", async () => {
    const demo = await startDemo(["--token-ttl-secs", "3", "--expiry-warning-secs", "0"]);
    try {
      const { page, context } = await throttledPerson(demo.url);
      await logIn(page, "alice", "wonderland");
      await status(page).filter({ hasText: "authenticated as alice" }).waitFor();
      await watchStates(page);
      // Refused with token_expired: the page leaves the authenticated state (and, when the
      // refresh endpoint still takes the token in its last second, recovers on a new connection).
      await page.waitForFunction(() => window.__states.some((s) => s !== "authenticated"), null, { timeout: 10_000 });
      await context.close();
    } finally {
      await demo.stop();
    }
  });

  for (const mode of ["message", "handshake"]) {
    test(`${mode} mode: a revoked user's page ends in a clear state without hammering the server`, async () => {
      const demo = await startDemo(["--mode", mode]);
      try {
        const { page, context, errors } = await person(demo.url);
        const handshakes = [];
        const refreshes = [];
        page.on("request", (r) => {
          if (/\/socket\.io\/.*EIO=4/.test(r.url()) && !/sid=/.test(r.url())) handshakes.push(r.url());
          if (r.url().endsWith("/token/refresh")) refreshes.push(r.url());
        });
        await logIn(page, "alice", "wonderland");
        await status(page).filter({ hasText: "authenticated as alice" }).waitFor();
        assert.equal(await page.locator("#send").isDisabled(), false);
        // Bob watches who is online.
        const bob = await person(demo.url);
        await logIn(bob.page, "bob", "builder");
        await bob.page.locator("#users li", { hasText: "alice" }).waitFor();

        const revoked = await adminRevoke(demo.url, { sub: "alice" });
        assert.equal(revoked.status, 200);

        await page.locator("#status[data-state=unauthorized]").waitFor();
        // She can no longer send, and she is gone from the others' "Online".
        assert.equal(await page.locator("#send").isDisabled(), true);
        assert.equal(await page.locator("#message").isDisabled(), true);
        await bob.page.waitForFunction(
          () => ![...document.querySelectorAll("#users li")].some((li) => li.textContent === "alice"),
        );
        await bob.context.close();
        // The icon the page names is served (Chromium asks for it lazily, so fetch it ourselves
        // rather than race its request).
        const icon = await page.locator("link[rel=icon]").getAttribute("href");
        for (const path of [icon, "/favicon.ico"]) {
          const response = await page.request.get(new URL(path, demo.url).href);
          assert.equal(response.status(), 200, `${path}: ${response.status()}`);
        }
        const box = page.locator("#socket-error");
        assert.equal(await box.getAttribute("data-code"), "revoked");
        assert.match(await box.textContent(), /revoked/);
        // Long enough for socket.io-client's reconnects (1 s, jittered) to have come several times.
        await new Promise((r) => setTimeout(r, 3_000));
        assert.equal(await status(page).getAttribute("data-state"), "unauthorized", "stays there");
        assert.equal(handshakes.length, 1, `no reconnect with a revoked token: ${handshakes.length} connections`);
        assert.ok(refreshes.length <= 1, `asked for a new token at most once: ${refreshes.length}`);
        assert.deepEqual(errors, []);
        await context.close();
      } finally {
        await demo.stop();
      }
    });
  }

  test("rooms: the picker lists the rooms the token grants, and a room's message reaches its members only", async () => {
    const demo = await startDemo();
    try {
      const alice = await person(demo.url);
      const bob = await person(demo.url);
      await logIn(alice.page, "alice", "wonderland");
      await logIn(bob.page, "bob", "builder");
      await status(alice.page).filter({ hasText: "authenticated as alice" }).waitFor();
      await status(bob.page).filter({ hasText: "authenticated as bob" }).waitFor();
      await alice.page.locator("#room option[value=tea-party]").waitFor({ state: "attached" });
      const options = await alice.page.locator("#room option").evaluateAll((os) => os.map((o) => o.value));
      assert.deepEqual(options, ["", "general", "tea-party"]);

      await alice.page.selectOption("#room", "tea-party");
      await alice.page.fill("#message", "tea for one");
      await alice.page.click("#send");
      await alice.page.locator("#messages li[data-room=tea-party]", { hasText: "alice tea for one" }).waitFor();
      await alice.page.selectOption("#room", "general");
      await alice.page.fill("#message", "hello general");
      await alice.page.click("#send");
      await bob.page.locator("#messages li[data-room=general]", { hasText: "alice hello general" }).waitFor();
      assert.equal(await bob.page.locator("#messages li", { hasText: "tea for one" }).count(), 0, "bob is not in tea-party");
      await alice.context.close();
      await bob.context.close();
    } finally {
      await demo.stop();
    }
  });
});

describe("claims that change while the page is open", () => {
  for (const mode of ["message", "handshake"]) {
    test(`${mode} mode: an admin changes alice's rooms; her page's picker shows them without a reload, on the same socket`, async () => {
      const demo = await startDemo(["--mode", mode]);
      try {
        const alice = await person(demo.url);
        const handshakes = [];
        alice.page.on("request", (r) => /\/socket\.io\/.*EIO=4/.test(r.url()) && !/sid=/.test(r.url()) && handshakes.push(r.url()));
        let loads = 0;
        alice.page.on("load", () => loads++);
        await logIn(alice.page, "alice", "wonderland");
        await status(alice.page).filter({ hasText: "authenticated as alice" }).waitFor();
        await alice.page.locator("#room option[value=tea-party]").waitFor({ state: "attached" });
        const res = await adminSetRooms(demo.url, { sub: "alice", rooms: ["general", "lab"] });
        assert.equal(res.status, 200, await res.text());
        await alice.page.locator("#room option[value=lab]").waitFor({ state: "attached" });
        await alice.page.locator("#room option[value=tea-party]").waitFor({ state: "detached" });
        const options = await alice.page.locator("#room option").evaluateAll((os) => os.map((o) => o.value));
        assert.deepEqual(options, ["", "general", "lab"]);
        assert.equal(await status(alice.page).getAttribute("data-state"), "authenticated");
        assert.equal(handshakes.length, 1, "one connection all along");
        assert.equal(loads, 0, "no reload");
        // The new room works: a message to it is accepted and shown.
        await alice.page.selectOption("#room", "lab");
        await alice.page.fill("#message", "in the lab");
        await alice.page.click("#send");
        await alice.page.locator("#messages li[data-room=lab]", { hasText: "alice in the lab" }).waitFor();
        assert.deepEqual(alice.errors, []);
        await alice.context.close();
      } finally {
        await demo.stop();
      }
    });
  }
});

describe("a client of the seed's kind: AngularJS 1.8, angular-socket-io 0.7, socket.io-client 1.7.4", () => {
  /** The page and its scripts, from npm and e2e/node/seed-client, served under the demo's origin. */
  const SEED_FILES = {
    "index.html": join(REPO, "e2e/node/seed-client/index.html"),
    "app.js": join(REPO, "e2e/node/seed-client/app.js"),
    "angular.js": join(REPO, "e2e/node/node_modules/angular/angular.js"),
    "angular-socket-io.js": join(REPO, "e2e/node/node_modules/angular-socket-io/socket.js"),
    "socket.io.js": join(REPO, "e2e/node/node_modules/socket.io-client-v1/dist/socket.io.js"),
  };

  // The page is served by playwright under the demo's origin; such a document has no IP address
  // space, and Chromium's Local Network Access checks then block its websocket to 127.0.0.1
  // (a page the demo serves itself is not affected). This browser turns that check off.
  let seedBrowser;
  before(async () => {
    seedBrowser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [...CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks"],
    });
  });
  after(() => seedBrowser?.close());

  test("logs in over REST, authenticates at --path /socket.io-client, answers whoami, re-authenticates after the connection is cut", async () => {
    const port = await freePort();
    const dataDir = await mkdtemp(join(tmpdir(), "seed-demo-"));
    const args = ["--path", "/socket.io-client"];
    let demo = await startDemo(args, { port, dataDir });
    const context = await seedBrowser.newContext();
    try {
      await context.route(`${demo.url}/seed/**`, (route) => {
        const name = new URL(route.request().url()).pathname.replace("/seed/", "");
        const path = SEED_FILES[name];
        return path ? route.fulfill({ path }) : route.fulfill({ status: 404 });
      });
      const page = await context.newPage();
      page.setDefaultTimeout(WAIT);
      const errors = [];
      page.on("pageerror", (e) => errors.push(e));
      await page.goto(`${demo.url}/seed/index.html?user=alice&password=wonderland`);
      await page.waitForFunction(() => window.seed?.state() === "authenticated");
      assert.equal((await page.evaluate(() => window.seed.whoami())).sub, "alice");
      assert.equal(await page.evaluate(() => window.seed.authentications()), 1);
      await page.waitForFunction(() => window.seed.transport() === "websocket");

      // The server goes away (killed) and comes back on the same address: the client reconnects
      // by itself, emits `authenticate` again on `connect`, and is authenticated again.
      await demo.kill();
      demo = await startDemo(args, { port, dataDir });
      await page.waitForFunction(() => window.seed.authentications() >= 2, null, { timeout: 30_000 });
      assert.equal((await page.evaluate(() => window.seed.whoami())).sub, "alice");
      await page.locator("#authentications", { hasText: "2" }).waitFor();
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
      await demo.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("the JS client's browser build on a plain HTML page: two <script> tags, no bundler", () => {
  const BROWSER_BUILD = join(REPO, "clients/js/dist/socketioxide-jwt-client.browser.js");
  const PAGES = [
    {
      name: "socket.io-client 4.8.4, found as the page's `io`",
      client: join(REPO, "e2e/node/node_modules/socket.io-client/dist/socket.io.min.js"),
      options: "{}",
    },
    {
      name: "socket.io-client 2.5.0, passed as the `io` option",
      client: join(REPO, "e2e/node/node_modules/socket.io-client-v2/dist/socket.io.js"),
      options: "{ io: window.io }",
    },
  ];
  for (const { name, client, options } of PAGES) {
    test(`${name}: logs in over REST, authenticated() resolves, whoami answers`, async () => {
      assert.ok(existsSync(BROWSER_BUILD), `${BROWSER_BUILD} is missing: npm run build in clients/js`);
      const demo = await startDemo();
      const context = await browser.newContext();
      try {
        // The order of the two tags does not matter: the build looks `io` up when it connects.
        const html = `<!doctype html><meta charset="utf-8"><title>plain page</title>
<script src="/plain/socketioxide-jwt-client.js"></script>
<script src="/plain/socket.io.js"></script>
<script>
  window.outcome = (async () => {
    const res = await fetch("/login", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "wonderland" }) });
    const { token } = await res.json();
    const auth = new SocketioxideJwt.AuthSocket(Object.assign({ url: location.origin, getToken: async () => token }, ${options}));
    auth.connect();
    const info = await auth.authenticated();
    const me = await new Promise((resolve) => auth.socket.emit("whoami", {}, resolve));
    return { sub: info.sub, whoami: me.sub, state: auth.state };
  })();
</script>`;
        const files = {
          "index.html": { body: html, contentType: "text/html" },
          "socketioxide-jwt-client.js": { path: BROWSER_BUILD },
          "socket.io.js": { path: client },
        };
        await context.route(`${demo.url}/plain/**`, (route) => {
          const file = files[new URL(route.request().url()).pathname.replace("/plain/", "")];
          return file ? route.fulfill(file) : route.fulfill({ status: 404 });
        });
        const page = await context.newPage();
        page.setDefaultTimeout(WAIT);
        const errors = [];
        page.on("pageerror", (e) => errors.push(e));
        await page.goto(`${demo.url}/plain/index.html`);
        const outcome = await page.evaluate(() => window.outcome);
        assert.deepEqual(outcome, { sub: "alice", whoami: "alice", state: "authenticated" });
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
        await demo.stop();
      }
    });
  }
});
