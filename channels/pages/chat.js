// The citizen's chat: Korean first, six languages; text is always inserted as text.
"use strict";
(function () {
  const T = {
    ko: { title: "120다산콜센터 채팅 상담", lang: "언어", large: "큰 글씨", intro: "상담원과 글로 대화합니다. 대화 내용은 기록되어 암호화 보관됩니다.", start: "채팅 시작", log: "대화", text: "메시지", send: "보내기", end: "대화 끝내기", you: "나", consultant: "상담원", waiting: "상담원 연결을 기다리고 있습니다.", joined: "상담원이 연결되었습니다.", handover: "다른 상담원에게 연결하고 있습니다.", typing: "상담원이 입력 중입니다…", read: "읽음", ended: "대화가 끝났습니다. 감사합니다.", offline: "연결이 끊겼습니다. 다시 연결하는 중…", sending: "보내는 중" },
    en: { title: "120 Dasan Call Center chat", lang: "Language", large: "Large text", intro: "Talk with a consultant in writing. The conversation is recorded and kept encrypted.", start: "Start chat", log: "Conversation", text: "Message", send: "Send", end: "End chat", you: "You", consultant: "Consultant", waiting: "Waiting for a consultant.", joined: "A consultant has joined.", handover: "Connecting you to another consultant.", typing: "The consultant is typing…", read: "Read", ended: "The chat has ended. Thank you.", offline: "Connection lost. Reconnecting…", sending: "Sending" },
    zh: { title: "120茶山呼叫中心在线咨询", lang: "语言", large: "大字体", intro: "通过文字与咨询员交流。对话内容将被记录并加密保存。", start: "开始咨询", log: "对话", text: "消息", send: "发送", end: "结束对话", you: "我", consultant: "咨询员", waiting: "正在等待咨询员。", joined: "咨询员已接入。", handover: "正在为您转接其他咨询员。", typing: "咨询员正在输入…", read: "已读", ended: "对话已结束，谢谢。", offline: "连接中断，正在重新连接…", sending: "发送中" },
    ja: { title: "120茶山コールセンター チャット相談", lang: "言語", large: "大きな文字", intro: "相談員と文字で会話します。会話は記録され、暗号化して保管されます。", start: "チャット開始", log: "会話", text: "メッセージ", send: "送信", end: "チャット終了", you: "あなた", consultant: "相談員", waiting: "相談員をお待ちください。", joined: "相談員が参加しました。", handover: "別の相談員におつなぎしています。", typing: "相談員が入力中です…", read: "既読", ended: "チャットは終了しました。ありがとうございました。", offline: "接続が切れました。再接続中…", sending: "送信中" },
    vi: { title: "Trò chuyện với Trung tâm 120 Dasan", lang: "Ngôn ngữ", large: "Chữ lớn", intro: "Trò chuyện bằng chữ với tư vấn viên. Cuộc trò chuyện được ghi lại và lưu trữ mã hóa.", start: "Bắt đầu", log: "Cuộc trò chuyện", text: "Tin nhắn", send: "Gửi", end: "Kết thúc", you: "Bạn", consultant: "Tư vấn viên", waiting: "Đang chờ tư vấn viên.", joined: "Tư vấn viên đã tham gia.", handover: "Đang chuyển sang tư vấn viên khác.", typing: "Tư vấn viên đang nhập…", read: "Đã đọc", ended: "Cuộc trò chuyện đã kết thúc. Cảm ơn bạn.", offline: "Mất kết nối. Đang kết nối lại…", sending: "Đang gửi" },
    mn: { title: "120 Дасан төвийн чат", lang: "Хэл", large: "Том үсэг", intro: "Зөвлөхтэй бичгээр харилцана. Яриа бичигдэж, шифрлэгдэн хадгалагдана.", start: "Чат эхлэх", log: "Яриа", text: "Мессеж", send: "Илгээх", end: "Дуусгах", you: "Та", consultant: "Зөвлөх", waiting: "Зөвлөхийг хүлээж байна.", joined: "Зөвлөх холбогдлоо.", handover: "Өөр зөвлөхөд шилжүүлж байна.", typing: "Зөвлөх бичиж байна…", read: "Уншсан", ended: "Яриа дууслаа. Баярлалаа.", offline: "Холболт тасарлаа. Дахин холбогдож байна…", sending: "Илгээж байна" },
  };
  const KEY = "dasan-chat";
  const $ = (id) => document.getElementById(id);
  let lang = "ko", ws = null, conv = null, lastSeq = 0, consultantRead = 0, typingTimer = null, lastTyping = 0, retry = 500;
  const pending = new Map(); // ref -> {text, li}

  function t(key) { return (T[lang] || T.ko)[key]; }
  function saved() { try { return JSON.parse(localStorage.getItem(KEY) || "null"); } catch (e) { return null; } }
  function save(v) { if (v) localStorage.setItem(KEY, JSON.stringify(v)); else localStorage.removeItem(KEY); }

  function applyLanguage() {
    document.documentElement.lang = lang;
    document.title = t("title");
    for (const [id, key] of [["title", "title"], ["lang-label", "lang"], ["large", "large"], ["intro", "intro"], ["start", "start"], ["log-label", "log"], ["text-label", "text"], ["send", "send"], ["end", "end"]]) $(id).textContent = t(key);
    $("lang").value = lang;
  }

  function item(sender, text, seq) {
    const li = document.createElement("li");
    li.className = sender;
    if (seq) li.dataset.seq = String(seq);
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = sender === "citizen" ? t("you") : sender === "consultant" ? t("consultant") : "";
    const body = document.createElement("span");
    body.className = "body";
    body.textContent = text; // never markup
    li.append(who, body);
    if (sender === "citizen") { const r = document.createElement("span"); r.className = "receipt"; li.append(r); }
    $("log").append(li);
    const pane = $("log").parentElement; pane.scrollTop = pane.scrollHeight;
    return li;
  }
  function note(text) { item("system", text, 0); }
  function showMessage(m) {
    if (m.seq <= lastSeq) return;
    lastSeq = m.seq;
    item(m.sender, m.text, m.seq);
    if (m.sender === "consultant") { $("status").textContent = ""; sendJson({ type: "read", seq: m.seq }); }
    updateReceipts();
  }
  function updateReceipts() {
    for (const li of $("log").querySelectorAll("li.citizen")) {
      const seq = Number(li.dataset.seq || 0);
      const r = li.querySelector(".receipt");
      if (r) r.textContent = seq && seq <= consultantRead ? t("read") : seq ? "" : t("sending");
    }
  }
  function sendJson(obj) { if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(obj)); return true; } return false; }

  function connect() {
    const s = saved();
    if (!s) return;
    conv = s.conversation; lang = s.language || lang; applyLanguage();
    $("start-box").hidden = true; $("chat-box").hidden = false;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(`${proto}//${location.host}/api/chat/ws`);
    ws.onopen = () => { retry = 500; ws.send(JSON.stringify({ type: "auth", token: s.token })); };
    ws.onmessage = (ev) => handle(JSON.parse(ev.data));
    ws.onclose = (ev) => {
      ws = null;
      if (!saved()) return;
      if (ev.code === 4004) { save(null); $("start-box").hidden = false; $("chat-box").hidden = true; return; }
      if (ev.code === 1006 || ev.code === 4008 || ev.code === 1001 || ev.code === 1011 || ev.code === 1000) {
        $("status").textContent = t("offline");
        setTimeout(connect, retry); retry = Math.min(retry * 2, 8000);
      }
    };
    ws.onerror = () => {};
  }

  function handle(ev) {
    switch (ev.type) {
      case "state": {
        const c = ev.conversation;
        if (c.ended_at) { finish(); return; }
        $("log").replaceChildren(); lastSeq = 0; consultantRead = c.consultant_read || 0;
        for (const m of c.messages) showMessage(m);
        $("status").textContent = c.consultant ? "" : t("waiting");
        for (const [ref, p] of pending) { p.li.remove(); p.li = item("citizen", p.text, 0); sendJson({ type: "message", text: p.text, ref }); }
        updateReceipts();
        break;
      }
      case "ack": {
        const p = pending.get(ev.ref);
        if (p) { pending.delete(ev.ref); if (ev.seq <= lastSeq) p.li.remove(); else { p.li.dataset.seq = String(ev.seq); lastSeq = Math.max(lastSeq, ev.seq); } }
        updateReceipts();
        break;
      }
      case "message": {
        if (ev.message.sender === "citizen" && [...pending.values()].some((p) => p.text === ev.message.text)) break; // our own, the ack follows
        showMessage(ev.message);
        break;
      }
      case "typing": $("status").textContent = t("typing"); clearTimeout(typingTimer); typingTimer = setTimeout(() => { $("status").textContent = ""; }, 4000); break;
      case "read": consultantRead = Math.max(consultantRead, ev.seq); updateReceipts(); break;
      case "joined": note(t("joined")); $("status").textContent = ""; break;
      case "handover": note(t("handover")); break;
      case "ended": finish(); break;
      case "error": {
        $("error").textContent = ev.message;
        const p = pending.get(ev.ref);
        if (p) { p.li.remove(); pending.delete(ev.ref); $("text").value = p.text; }
        break;
      }
      default: break;
    }
  }

  function finish() {
    save(null); note(t("ended")); $("status").textContent = "";
    $("form").hidden = true; $("start-box").hidden = false;
    if (ws) ws.close(1000);
  }

  async function start() {
    $("error").textContent = "";
    const answer = await fetch("/api/chat/start", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ language: lang }) });
    const body = await answer.json();
    if (!answer.ok) { $("intro").textContent = (body.error && body.error.message) || answer.statusText; return; }
    save({ token: body.token, conversation: body.conversation.id, language: lang });
    $("log").replaceChildren(); $("form").hidden = false;
    connect();
    $("text").focus();
  }

  function send(e) {
    e.preventDefault();
    const text = $("text").value;
    $("error").textContent = "";
    if (!text.trim()) return;
    const ref = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
    pending.set(ref, { text, li: item("citizen", text, 0) });
    sendJson({ type: "message", text, ref });
    lastTyping = 0; // the next keystroke announces typing again
    updateReceipts();
    $("text").value = "";
    $("text").focus();
  }

  function typing() {
    const now = Date.now();
    if (now - lastTyping > 2000) { lastTyping = now; sendJson({ type: "typing" }); }
  }

  $("lang").addEventListener("change", () => { lang = $("lang").value; applyLanguage(); const s = saved(); if (s) save({ ...s, language: lang }); });
  $("large").addEventListener("click", () => { const on = document.body.classList.toggle("large"); $("large").setAttribute("aria-pressed", String(on)); });
  $("start").addEventListener("click", start);
  $("form").addEventListener("submit", send);
  $("text").addEventListener("input", typing);
  $("text").addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey && !e.isComposing) send(e); });
  $("end").addEventListener("click", () => { sendJson({ type: "end" }); });
  const pref = (navigator.language || "ko").slice(0, 2);
  lang = saved()?.language || (T[pref] ? pref : "ko");
  applyLanguage();
  connect();
})();
