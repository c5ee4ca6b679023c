// Starts Swagger UI on this server's OpenAPI document. A file of its own, not an inline
// script, so that the page's Content-Security-Policy allows scripts from this server alone.
// The validator is off: it would send the document to a service on the internet.

window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
