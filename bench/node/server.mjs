// The Node.js servers of the storm benchmark, each given its best configuration.
//   node server.mjs --kind bare|socketio-jwt|classic|handshake
// bare: socket.io 4.8, no authentication (emits "ready"); socketio-jwt: auth0's socketio-jwt
// 4.6.2 (message mode); classic: the two-round-trip pattern by hand with jsonwebtoken;
// handshake: io.use() checking the auth payload. Prints "listening on http://ADDR".
import { createSecretKey } from "node:crypto";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

import jwt from "jsonwebtoken";
import { Server } from "socket.io";
import socketioJwt from "socketio-jwt";

const { values } = parseArgs({ options: { kind: { type: "string" }, port: { type: "string", default: "0" } } });
const SECRET = "benchmark-secret-0123456789abcdef";
// jsonwebtoken is ~2x faster with a KeyObject than with a string secret.
const KEY = createSecretKey(Buffer.from(SECRET));

const http = createServer();
const io = new Server(http, { transports: ["websocket"] });

switch (values.kind) {
  case "bare":
    io.on("connection", (socket) => socket.emit("ready"));
    break;
  case "socketio-jwt":
    // socketio-jwt 4.6.2 crashes on Socket.IO 4 (its issue #178) unless the server has $emit.
    io.$emit = () => {};
    // It bundles jsonwebtoken 8, which takes the secret as a string only.
    io.sockets.on("connection", socketioJwt.authorize({ secret: SECRET, timeout: 15000 }));
    break;
  case "classic":
    io.on("connection", (socket) => {
      const timer = setTimeout(() => socket.disconnect(true), 15000);
      socket.once("authenticate", ({ token } = {}) => {
        jwt.verify(token, KEY, { algorithms: ["HS256"] }, (err, claims) => {
          clearTimeout(timer);
          if (err) {
            socket.emit("unauthorized", { message: err.message, code: "invalid_token" });
            return socket.disconnect(true);
          }
          socket.data.claims = claims;
          socket.emit("authenticated");
        });
      });
    });
    break;
  case "handshake":
    io.use((socket, next) => {
      jwt.verify(socket.handshake.auth?.token, KEY, { algorithms: ["HS256"] }, (err, claims) => {
        if (err) return next(new Error("invalid_token"));
        socket.data.claims = claims;
        next();
      });
    });
    io.on("connection", (socket) => socket.emit("authenticated"));
    break;
  default:
    console.error(`unknown --kind ${values.kind}`);
    process.exit(2);
}

http.listen(Number(values.port), "127.0.0.1", 511, () => {
  const { port } = http.address();
  console.log(`listening on http://127.0.0.1:${port}`);
});
