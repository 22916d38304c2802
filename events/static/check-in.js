// The check-in page on a phone at the door. Everything here is an extra: without JavaScript the
// search form reloads with ?q= and the code form is typed in by hand.
document.addEventListener("DOMContentLoaded", () => {
  // Search as you type: filters the list already on the page.
  const input = document.getElementById("ci-q");
  const items = document.querySelectorAll("#check-in-list li[data-name]");
  if (input && items.length) {
    input.addEventListener("input", () => {
      const needle = input.value.trim().toLowerCase();
      items.forEach((item) => {
        item.hidden = needle !== "" && !item.dataset.name.includes(needle);
      });
    });
  }

  // Scan the QR code of a confirmation mail with the camera, where the browser can
  // (getUserMedia + BarcodeDetector); the scanned code goes into the code form and is submitted.
  const form = document.getElementById("code-form");
  const scanButton = document.getElementById("scan-button");
  const codeInput = document.getElementById("ci-code");
  const panel = document.getElementById("scanner");
  const video = document.getElementById("scanner-video");
  const stopButton = document.getElementById("scanner-stop");
  if (!form || !scanButton || !codeInput || !panel || !video) return;
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;

  let stream = null;
  let timer = null;

  const stop = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    panel.hidden = true;
    scanButton.hidden = false;
  };

  const start = async () => {
    let detector;
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (!formats.includes("qr_code")) return;
      detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (error) {
      stop();
      return;
    }
    video.srcObject = stream;
    panel.hidden = false;
    scanButton.hidden = true;
    await video.play();
    const look = async () => {
      if (!stream) return;
      try {
        const codes = await detector.detect(video);
        const found = codes.find((code) => /^\s*\d+-[A-Za-z0-9]{8}\s*$/.test(code.rawValue));
        if (found) {
          codeInput.value = found.rawValue.trim();
          stop();
          form.requestSubmit ? form.requestSubmit() : form.submit();
          return;
        }
      } catch (error) {
        // A frame that could not be read: try the next one.
      }
      timer = setTimeout(look, 250);
    };
    look();
  };

  scanButton.hidden = false;
  scanButton.addEventListener("click", start);
  if (stopButton) stopButton.addEventListener("click", stop);
});
