// Applies the saved light/dark choice before the page paints (loaded in <head>, no defer).
(function () {
  "use strict";
  try {
    var saved = localStorage.getItem("tw-theme");
    if (saved === "light" || saved === "dark") {
      document.documentElement.setAttribute("data-theme", saved);
    }
  } catch (e) { /* storage unavailable: follow the system setting */ }
})();
