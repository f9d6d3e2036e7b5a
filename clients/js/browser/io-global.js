// socket.io-client for the browser build (dist/socketioxide-jwt-client.browser.js), which a page
// loads with a <script> tag and no bundler: the `io` that socket.io-client's own <script> tag
// defines, looked up when a socket is made (so the two tags may come in either order).
export function io(url, opts) {
  const pageIo = globalThis.io;
  if (typeof pageIo !== "function") {
    throw new Error(
      "socketioxide-jwt-client: no socket.io-client on this page: load its <script> (it defines `io`) or pass `io` in the options",
    );
  }
  return pageIo(url, opts);
}
