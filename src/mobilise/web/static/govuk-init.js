// Starts GOV.UK Frontend's components. A module script runs only in browsers that support
// ES modules, the same test GOV.UK's own (inline) snippet makes before adding these classes;
// it is a file because the Content-Security-Policy admits no inline script.
import { initAll } from "/static/govuk/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();
