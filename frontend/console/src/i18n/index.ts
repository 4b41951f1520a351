import { createI18n } from "vue-i18n";
import en from "./en";
import zhCN from "./zh-CN";

const LOCALE_KEY = "gov-console.locale";
export type Locale = "zh-CN" | "en";

const saved = localStorage.getItem(LOCALE_KEY);
const initial: Locale = saved === "en" ? "en" : "zh-CN"; // Chinese unless the person chose English

export const i18n = createI18n({
  legacy: false,
  locale: initial,
  fallbackLocale: "zh-CN",
  messages: { "zh-CN": zhCN, en },
});

export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale;
  localStorage.setItem(LOCALE_KEY, locale);
  document.documentElement.lang = locale;
}
document.documentElement.lang = initial;
