// The API docs page: Swagger UI (bundled with zoo through fastapi-offline, never from a CDN)
// showing /openapi.json. Its own script file, because the page's Content-Security-Policy allows
// no inline script.
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // the default badge asks a remote validator
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
