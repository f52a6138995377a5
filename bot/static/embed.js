// Embeds the ward's web chat in another site: a round button in the corner opens the chat.
// <script src="https://ASSISTANT-HOST/static/embed.js" async></script>
(function () {
  var me = document.currentScript, base = me ? new URL(me.src).origin : "";
  var open = false, frame = null;
  var btn = document.createElement("button");
  btn.type = "button"; btn.setAttribute("aria-label", "Hỏi Trợ lý số phường"); btn.textContent = "💬";
  btn.style.cssText = "position:fixed;right:16px;bottom:16px;width:58px;height:58px;border-radius:50%;border:0;" +
    "background:#0068ff;color:#fff;font-size:26px;box-shadow:0 3px 10px rgba(0,0,0,.25);cursor:pointer;z-index:2147483000";
  btn.onclick = function () {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = base + "/?embed=1"; frame.title = "Trợ lý số phường";
      frame.allow = "geolocation"; // "gửi vị trí" still asks the resident first
      frame.style.cssText = "position:fixed;right:16px;bottom:84px;width:min(380px,calc(100vw - 32px));" +
        "height:min(600px,calc(100vh - 110px));border:0;border-radius:14px;box-shadow:0 6px 24px rgba(0,0,0,.25);" +
        "z-index:2147483000;background:#fff";
      document.body.appendChild(frame);
    }
    open = !open; frame.style.display = open ? "block" : "none";
  };
  document.body.appendChild(btn);
})();
