// The citizen's 129 report form: posts to /api/care/citizen/tickets and shows the ticket
// number it got, or the server's error. Texts in all six languages, Korean first.
"use strict";
(function () {
  const TEXTS = {
    ko: { title: "129 불편 신고", language: "언어", category: "분야", district: "자치구", address: "주소",
      description: "내용", number: "휴대전화 번호", channel: "처리 결과 안내", by_sms: "문자",
      by_callback: "전화", by_none: "받지 않음", consent: "개인정보 수집·이용 및 담당 기관 전달에 동의합니다",
      submit: "신고하기", done: "접수되었습니다. 접수 번호: " },
    en: { title: "Report an inconvenience (129)", language: "Language", category: "Category",
      district: "District", address: "Address", description: "What happened", number: "Mobile number",
      channel: "Updates by", by_sms: "Text message", by_callback: "Phone call", by_none: "No updates",
      consent: "I agree that my data is used and passed to the responsible office",
      submit: "Send", done: "Received. Your report number: " },
    zh: { title: "129 不便举报", language: "语言", category: "类别", district: "区", address: "地址",
      description: "内容", number: "手机号码", channel: "处理结果通知方式", by_sms: "短信", by_callback: "电话",
      by_none: "不需要", consent: "我同意收集使用个人信息并转交负责机关", submit: "提交", done: "已受理。受理编号：" },
    ja: { title: "129 不便の通報", language: "言語", category: "分野", district: "区", address: "住所",
      description: "内容", number: "携帯電話番号", channel: "結果のお知らせ", by_sms: "ショートメール",
      by_callback: "電話", by_none: "不要", consent: "個人情報の利用と担当機関への伝達に同意します",
      submit: "送信", done: "受け付けました。受付番号：" },
    vi: { title: "Phản ánh bất tiện (129)", language: "Ngôn ngữ", category: "Lĩnh vực", district: "Quận",
      address: "Địa chỉ", description: "Nội dung", number: "Số điện thoại di động", channel: "Nhận kết quả qua",
      by_sms: "Tin nhắn", by_callback: "Cuộc gọi", by_none: "Không nhận",
      consent: "Tôi đồng ý cho sử dụng thông tin cá nhân và chuyển đến cơ quan phụ trách",
      submit: "Gửi", done: "Đã tiếp nhận. Mã số: " },
    mn: { title: "129 гомдол мэдээлэх", language: "Хэл", category: "Ангилал", district: "Дүүрэг",
      address: "Хаяг", description: "Агуулга", number: "Гар утасны дугаар", channel: "Хариу авах",
      by_sms: "Мессеж", by_callback: "Утсаар", by_none: "Авахгүй",
      consent: "Хувийн мэдээллээ ашиглах, хариуцсан байгууллагад дамжуулахыг зөвшөөрч байна",
      submit: "Илгээх", done: "Хүлээн авлаа. Дугаар: " },
  };
  const $ = (id) => document.getElementById(id);
  let catalog = { districts: {}, categories: {} };

  function names(entry, language) {
    return entry[language] || entry.en || entry.ko;
  }

  function fill(select, entries, language) {
    const chosen = select.value;
    select.replaceChildren();
    for (const [id, entry] of Object.entries(entries)) {
      const option = document.createElement("option");
      option.value = id;
      option.textContent = names(entry, language);
      select.appendChild(option);
    }
    if (chosen) select.value = chosen;
  }

  function translate() {
    const language = $("language").value;
    const texts = TEXTS[language];
    document.documentElement.lang = language;
    for (const node of document.querySelectorAll("[data-text]")) {
      node.textContent = texts[node.dataset.text];
    }
    fill($("category"), catalog.categories, language);
    fill($("district"), catalog.districts, language);
  }

  $("language").addEventListener("change", translate);
  $("report").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      category: $("category").value, district: $("district").value,
      address: $("address").value, description: $("description").value,
      language: $("language").value, channel: $("channel").value,
      number: $("number").value || null, consent: $("consent").checked,
    };
    const response = await fetch("/api/care/citizen/tickets", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const data = await response.json();
    $("result").textContent = response.ok
      ? TEXTS[body.language].done + data.id
      : (data.error && data.error.message) || response.statusText;
  });
  fetch("/api/care/catalog").then((r) => r.json()).then((data) => { catalog = data; translate(); });
})();
