/**
 * Entry point of the demo page. Placeholder: the demo (shared state, cluster panel, log, fault
 * controls, message timeline) arrives with the vertical-slice issue, on top of `src/client`.
 */

const statusLine = document.querySelector<HTMLParagraphElement>('#status');
if (statusLine) {
  statusLine.textContent =
    'webraft demo arrives with the vertical-slice issue. This page only proves the build works.';
}

// A module, not a global script: keeps top-level names out of the DOM's global scope.
export {};
