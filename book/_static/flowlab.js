// Click a figure to see it at full size: the wide ones (03_ablation is over 2,000 px) are shrunk to the
// content column. A click on the enlarged figure, or Escape, closes it. No library, nothing fetched.
document.addEventListener("DOMContentLoaded", () => {
  const overlay = document.createElement("div");
  overlay.className = "flowlab-zoom";
  overlay.setAttribute("role", "dialog");
  overlay.setAttribute("aria-label", "figure at full size (click or Escape to close)");
  const big = document.createElement("img");
  overlay.appendChild(big);
  document.body.appendChild(overlay);
  const close = () => overlay.classList.remove("open");
  overlay.addEventListener("click", close);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });
  document.querySelectorAll("div.cell_output img, article img.flowlab-figure").forEach((img) => {
    img.classList.add("zoomable");
    img.title = img.title || "click to enlarge";
    img.addEventListener("click", () => {
      big.src = img.currentSrc || img.src;
      big.alt = img.alt || "figure";
      overlay.classList.add("open");
    });
  });
});
