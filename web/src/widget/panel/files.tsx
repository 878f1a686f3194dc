/**
 * One optional file for a request or a reply: picker and drag-and-drop, the limits shown before
 * upload, a too-large or refused file rejected in the form, a second file refused too.
 */
import type { JSX } from "preact";
import { formatBytes, register } from "../core/i18n";
import { useContext, useState } from "preact/hooks";
import type { Api } from "../core/api";
import { Ctx, useId, useLatest, useT } from "./hooks";

register({
  uk: {
    "file.label": "Файл (необов'язково, один)",
    "file.limits": "До {size}. Типи: {types}",
    "file.drop": "Перетягніть файл сюди або виберіть його",
    "file.choose": "Вибрати файл",
    "file.remove": "Прибрати файл {name}",
    "file.too_large": "Файл «{name}» завеликий: {size}. Найбільше — {max}.",
    "file.bad_type": "Файл «{name}» має тип, який не приймається. Дозволено: {types}.",
    "file.only_one": "Можна додати лише один файл.",
    "file.empty": "Файл «{name}» порожній.",
  },
  ru: {
    "file.label": "Файл (необязательно, один)",
    "file.limits": "До {size}. Типы: {types}",
    "file.drop": "Перетащите файл сюда или выберите его",
    "file.choose": "Выбрать файл",
    "file.remove": "Убрать файл {name}",
    "file.too_large": "Файл «{name}» слишком большой: {size}. Максимум — {max}.",
    "file.bad_type": "Тип файла «{name}» не принимается. Разрешено: {types}.",
    "file.only_one": "Можно добавить только один файл.",
    "file.empty": "Файл «{name}» пустой.",
  },
  en: {
    "file.label": "File (optional, one)",
    "file.limits": "Up to {size}. Types: {types}",
    "file.drop": "Drop a file here, or choose one",
    "file.choose": "Choose a file",
    "file.remove": "Remove the file {name}",
    "file.too_large": "The file “{name}” is too large: {size}. The limit is {max}.",
    "file.bad_type": "The file “{name}” is of a type that is not accepted. Allowed: {types}.",
    "file.only_one": "Only one file can be attached.",
    "file.empty": "The file “{name}” is empty.",
  },
  pl: {
    "file.label": "Plik (opcjonalnie, jeden)",
    "file.limits": "Do {size}. Typy: {types}",
    "file.drop": "Upuść plik tutaj albo wybierz go",
    "file.choose": "Wybierz plik",
    "file.remove": "Usuń plik {name}",
    "file.too_large": "Plik „{name}” jest za duży: {size}. Limit to {max}.",
    "file.bad_type": "Plik „{name}” ma typ, który nie jest akceptowany. Dozwolone: {types}.",
    "file.only_one": "Można dołączyć tylko jeden plik.",
    "file.empty": "Plik „{name}” jest pusty.",
  },
});

export interface PolicyTopic {
  id: string;
  /** In the language asked for (the support directory's name). */
  name: string;
  open_now?: boolean | null;
  opens_at?: string | null;
  /** Per importance: the first answer a request filed now would be promised (ISO 8601). */
  first_response_due?: Record<string, string | null>;
}

export interface FormPolicy {
  topics: PolicyTopic[];
  importance: string[];
  default_importance: string;
  comment_max: number;
  message_max: number;
  max_file_bytes: number;
  allowed_types: string[];
  allowed_extensions: string[];
}

// Per language; the promised answer times in it age, so it is fetched again after a minute.
const cached = new Map<string, { at: number; policy: Promise<FormPolicy> }>();
const POLICY_MAX_AGE_MS = 60_000;

/** The request form's choices and limits from the server, in the caller's language. */
export function useFormPolicy(api?: Api): { policy: FormPolicy | undefined; error: unknown; reload: () => void } {
  const widget = useContext(Ctx);
  const client = api ?? widget?.api;
  const { lang } = useT();
  const { data, error, reload } = useLatest(`policy|${lang}`, () => {
    if (!client) return Promise.reject(new Error("no API in context"));
    const hit = cached.get(lang);
    if (hit && Date.now() - hit.at < POLICY_MAX_AGE_MS) return hit.policy;
    const policy = client.get<FormPolicy>(`/api/v1/request-form?lang=${lang}`).catch((e: unknown) => {
      cached.delete(lang);
      throw e;
    });
    cached.set(lang, { at: Date.now(), policy });
    return policy;
  });
  return { policy: data, error, reload };
}

/** Topic id → its name in the caller's language (the support directory's), once the form's choices are in. */
export function useTopicNames(api?: Api): Map<string, string> {
  const { policy } = useFormPolicy(api);
  return new Map((policy?.topics ?? []).map((x) => [x.id, x.name]));
}

export function FilePicker({
  policy,
  file,
  onChange,
  disabled,
}: {
  policy: FormPolicy;
  file: File | null;
  onChange: (file: File | null) => void;
  disabled?: boolean;
}): JSX.Element {
  const { t, lang } = useT();
  const id = useId("hd-file");
  const [problem, setProblem] = useState<string | null>(null);
  const [over, setOver] = useState(false);
  const types = policy.allowed_extensions.join(", ");
  const max = formatBytes(lang, policy.max_file_bytes);

  const take = (files: FileList | File[] | null): void => {
    const list = [...(files ?? [])];
    if (!list.length) return;
    if (list.length > 1 || file) {
      setProblem(t("file.only_one"));
      return;
    }
    const picked = list[0] as File;
    const ext = picked.name.includes(".") ? picked.name.slice(picked.name.lastIndexOf(".")).toLowerCase() : "";
    if (picked.size > policy.max_file_bytes) {
      setProblem(t("file.too_large", { name: picked.name, size: formatBytes(lang, picked.size), max }));
    } else if (picked.size === 0) {
      setProblem(t("file.empty", { name: picked.name }));
    } else if (!policy.allowed_extensions.includes(ext) && !policy.allowed_types.includes(picked.type)) {
      setProblem(t("file.bad_type", { name: picked.name, types }));
    } else {
      setProblem(null);
      onChange(picked);
    }
  };

  return (
    <div class="field">
      <span class="label" id={`${id}-label`}>
        {t("file.label")}
      </span>
      <div
        class={over ? "dropzone over" : "dropzone"}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          if (!disabled) take(e.dataTransfer?.files ?? null);
        }}
      >
        {file ? (
          <div class="row">
            <span class="grow file-name">
              {file.name} · {formatBytes(lang, file.size)}
            </span>
            <button type="button" class="button secondary" disabled={disabled} onClick={() => onChange(null)}>
              {t("file.remove", { name: file.name })}
            </button>
          </div>
        ) : (
          <>
            <span aria-hidden="true">{t("file.drop")}</span>
            <label class="button secondary file-choose" for={id}>
              {t("file.choose")}
            </label>
            <input
              id={id}
              class="sr-only"
              type="file"
              accept={policy.allowed_extensions.join(",")}
              disabled={disabled}
              aria-describedby={`${id}-hint${problem ? ` ${id}-error` : ""}`}
              aria-invalid={problem ? "true" : undefined}
              onChange={(e) => {
                const input = e.currentTarget as HTMLInputElement;
                take(input.files);
                input.value = "";
              }}
            />
          </>
        )}
      </div>
      <div class="hint" id={`${id}-hint`}>
        {t("file.limits", { size: max, types })}
      </div>
      {problem && (
        <div class="field-error" id={`${id}-error`} role="alert">
          {problem}
        </div>
      )}
    </div>
  );
}
