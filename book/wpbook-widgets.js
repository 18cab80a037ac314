// Loaded between require.js and the widget manager (_config.yml, nb_ipywidgets_js). The widget
// manager's AMD module loads its Font Awesome fonts from its own folder, which require.js puts
// next to the page (chapters/@jupyter-widgets/html-manager/dist/) unless told otherwise: point
// it at the copy vendored with the book (book/_vendor/html-manager, served as _static/offline/).
require.config({
  paths: {"@jupyter-widgets/html-manager/dist": new URL("offline/html-manager", document.currentScript.src).href}
});
