// Starts the admin API reference (/admin/docs) from the document the worker serves. Offline:
// no fonts or services from elsewhere (the page's Content-Security-Policy would refuse them).
/* global Scalar */
const app = document.getElementById("app");
Scalar.createApiReference(app, {
  url: app.dataset.url,
  withDefaultFonts: false,
  telemetry: false,
  showDeveloperTools: "never",
  mcp: { disabled: true },
  agent: { disabled: true },
});
