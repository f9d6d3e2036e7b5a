/* global angular, io */
// The seed's client, written again: log in over REST, then connect at `/socket.io-client` and
// emit `authenticate` on every `connect`; `socketAuth.getAuthenticatedAsPromise()` resolves on
// `authenticated`. Nothing in it knows about socketioxide-jwt.
angular
  .module("seedApp", ["btford.socket-io"])

  // The REST login: the token the socket will use too.
  .factory("Auth", function ($http) {
    var token = null;
    return {
      login: function (username, password) {
        return $http.post("/login", { username: username, password: password }).then(function (res) {
          token = res.data.token;
          return token;
        });
      },
      getToken: function () {
        return token;
      },
    };
  })

  // Connects only after login; sends the token on every connect (so also after a reconnect).
  .factory("socket", function (socketFactory, Auth) {
    var socket;
    var self = {
      authentications: 0,
    };
    self.socket = socket;
    self.initialize = function () {
      var ioSocket = io("", { path: "/socket.io-client" });
      self.ioSocket = ioSocket;
      self.socket = socket = socketFactory({ ioSocket: ioSocket });
      socket.on("authenticated", function () {
        self.authentications += 1;
      });
      socket.on("connect", function () {
        socket.emit("authenticate", { token: Auth.getToken() });
      });
    };
    return self;
  })

  // A promise that the socket is authenticated, connecting it the first time.
  .factory("socketAuth", function (socket, $q) {
    return {
      getAuthenticatedAsPromise: function () {
        var listen = function () {
          var deferred = $q.defer();
          socket.socket.on("authenticated", function () {
            deferred.resolve(true);
          });
          return deferred.promise;
        };
        if (!socket.socket) {
          socket.initialize();
          return listen();
        }
        return socket.authentications > 0 ? $q.when(true) : listen();
      },
    };
  })

  .controller("ChatCtrl", function ($scope, $location, Auth, socket, socketAuth) {
    var params = new URLSearchParams(window.location.search);
    $scope.state = "logging in";
    $scope.authentications = 0;
    // Hooks for the test: the state, and `whoami` through the wrapped socket.
    window.seed = {
      state: function () {
        return $scope.state;
      },
      authentications: function () {
        return socket.authentications;
      },
      whoami: function () {
        return new Promise(function (resolve) {
          socket.socket.emit("whoami", {}, resolve);
        });
      },
      transport: function () {
        return socket.ioSocket.io.engine.transport.name;
      },
    };
    Auth.login(params.get("user"), params.get("password"))
      .then(function () {
        $scope.state = "connecting";
        return socketAuth.getAuthenticatedAsPromise();
      })
      .then(function () {
        $scope.state = "authenticated";
      })
      .catch(function (e) {
        $scope.state = "failed: " + (e && (e.status || e.message));
      });
    // Keep the page's counter current (the factory counts outside Angular's digest too).
    setInterval(function () {
      $scope.$applyAsync(function () {
        $scope.authentications = socket.authentications;
      });
    }, 100);
  });
