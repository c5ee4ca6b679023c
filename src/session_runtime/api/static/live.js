// One WebSocket to /v1/ws that outlives drops: it reconnects by itself (backing off up to a
// few seconds), authenticates with a first message and subscribes again to everything it
// held. Its owner learns of each (re)connection through ``onOpen`` and catches up there.

const CLOSE_UNAUTHENTICATED = 4401;
const PING_EVERY_MS = 20000;

export class LiveConnection {
  constructor(token, { onMessage, onState, onOpen, onRefused }) {
    this.token = token;
    this.onMessage = onMessage;
    this.onState = onState;
    this.onOpen = onOpen;
    this.onRefused = onRefused;
    this.subscriptions = new Map(); // id -> the subscribe message
    this.socket = null;
    this.isReady = false;
    this.isClosed = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
  }

  start() {
    this.isClosed = false;
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.onState(this.attempt === 0 ? "connecting" : "reconnecting");
    const socket = new WebSocket(`${scheme}//${location.host}/v1/ws`);
    this.socket = socket;
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "auth", token: this.token }));
    });
    socket.addEventListener("message", (event) => {
      if (socket !== this.socket) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "authenticated") {
        this.attempt = 0;
        this.isReady = true;
        this.onState("live");
        for (const subscribe of this.subscriptions.values()) this.send(subscribe);
        this.startPing();
        this.onOpen();
      } else if (message.type !== "pong") {
        this.onMessage(message);
      }
    });
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket) return;
      this.isReady = false;
      this.stopPing();
      if (this.isClosed) return;
      if (event.code === CLOSE_UNAUTHENTICATED) {
        this.isClosed = true;
        this.onState("refused");
        this.onRefused();
        return;
      }
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    this.attempt += 1;
    this.onState("reconnecting");
    const delay = Math.min(5000, 250 * 2 ** Math.min(this.attempt - 1, 5));
    const jittered = delay * (0.75 + Math.random() * 0.5);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), jittered);
  }

  startPing() {
    this.stopPing();
    this.pingTimer = setInterval(() => this.send({ type: "ping" }), PING_EVERY_MS);
  }

  stopPing() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  send(message) {
    if (this.isReady && this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
    }
  }

  /** Hold a subscription (sent now when connected, and again after every reconnect). */
  subscribe(id, projectId, sessionId = null) {
    const message = { type: "subscribe", id, projectId };
    if (sessionId) message.sessionId = sessionId;
    this.subscriptions.set(id, message);
    this.send(message);
  }

  unsubscribe(id) {
    if (!this.subscriptions.delete(id)) return;
    this.send({ type: "unsubscribe", id });
  }

  /** Drop the socket without giving up: the next attempt starts at once (tests, recovery). */
  drop() {
    if (this.socket) this.socket.close();
  }

  close() {
    this.isClosed = true;
    this.isReady = false;
    clearTimeout(this.retryTimer);
    this.stopPing();
    this.subscriptions.clear();
    if (this.socket) this.socket.close();
    this.socket = null;
  }
}
