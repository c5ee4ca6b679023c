// The server's REST API, with the token in the Authorization header (never in a URL).

/** An answer that was not a success: the server's error body, or a network failure. */
export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export class Api {
  constructor(token) {
    this.token = token;
  }

  /** GET ``path`` with the query ``params`` (empty values left out); the parsed JSON. */
  async get(path, params = {}) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== "") query.set(name, value);
    }
    const text = query.toString();
    const url = text ? `${path}?${text}` : path;
    let response;
    try {
      response = await fetch(url, {
        headers: { Authorization: `Bearer ${this.token}`, Accept: "application/json" },
        cache: "no-store",
      });
    } catch (error) {
      throw new ApiError(0, "NETWORK", "The server cannot be reached.");
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) {
      const error = body && body.error ? body.error : {};
      throw new ApiError(
        response.status,
        error.code || `HTTP_${response.status}`,
        error.message || `The server answered ${response.status}.`,
        error.details || {},
      );
    }
    return body;
  }

  me() {
    return this.get("/v1/me");
  }

  projects() {
    return this.get("/v1/projects");
  }

  events(projectId) {
    return this.get(`/v1/projects/${encodeURIComponent(projectId)}/events`);
  }

  experiences(projectId) {
    return this.get(`/v1/projects/${encodeURIComponent(projectId)}/experiences`);
  }

  sessions(projectId, params) {
    return this.get(`/v1/projects/${encodeURIComponent(projectId)}/sessions`, params);
  }

  stats(projectId, params) {
    return this.get(`/v1/projects/${encodeURIComponent(projectId)}/stats`, params);
  }
}
