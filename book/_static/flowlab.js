// Click a figure to see it at full size: the wide ones are shrunk to the content column. A click on the
// enlarged figure, or Escape, closes it. No library, nothing fetched; the enlarged copy exists only while
// it is open (an empty image would count as one that failed to load).
document.addEventListener("DOMContentLoaded", () => {
  let overlay = null;
  const close = () => { if (overlay) { overlay.remove(); overlay = null; } };
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });
  document.querySelectorAll("div.cell_output img").forEach((img) => {
    img.classList.add("zoomable");
    img.title = img.title || "click to enlarge";
    img.addEventListener("click", () => {
      close();
      overlay = document.createElement("div");
      overlay.className = "flowlab-zoom open";
      overlay.setAttribute("role", "dialog");
      overlay.setAttribute("aria-label", "figure at full size (click or Escape to close)");
      const big = document.createElement("img");
      big.src = img.currentSrc || img.src;
      big.alt = img.alt || "figure";
      overlay.appendChild(big);
      overlay.addEventListener("click", close);
      document.body.appendChild(overlay);
    });
  });
});
