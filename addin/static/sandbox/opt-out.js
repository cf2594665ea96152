// Loaded before office.js in the sandbox only: Office.js in a frame outside any
// Office client navigates that frame away to about:blank unless this is set; the
// sandbox page is the pane's host instead (see host.js).
window.OsfOptOut = true;
