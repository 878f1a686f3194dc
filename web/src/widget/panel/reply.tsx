/**
 * A reply to a request: text and at most one file, the upload's progress, sending and what went
 * wrong. The widget's request history and the console's request view bring their own labels, file
 * field and way of sending (the console's carries the version it saw as `If-Match`).
 */
import type { ComponentChildren, JSX } from "preact";
import { useRef, useState } from "preact/hooks";
import { useId, useT } from "./hooks";
import { ErrorNotice } from "./ui";

export interface ReplyLabels {
  title: string;
  text: string;
  empty: string;
  /** Said when the text is longer than `messageMax` allows. */
  tooLong?: (max: number) => string;
  progress: string;
  send: string;
  sending: string;
  sent: string;
}

/** What the form gives its file field. */
export interface FileFieldProps {
  id: string;
  file: File | null;
  onChange: (file: File | null) => void;
  disabled: boolean;
  /** The server refused the file (see `fileRefusal`). */
  problem: string | null;
  onProblem: (problem: string | null) => void;
}

/** Sends the reply; false when it was not accepted and the caller has said why (a conflict). */
export type SendReply = (body: FormData, onProgress: ((loaded: number, total: number) => void) | undefined) => Promise<boolean>;

export function ReplyForm({
  idPrefix,
  class: className,
  level = 3,
  labels,
  messageMax,
  fileField,
  fileRefusal,
  send,
}: {
  idPrefix: string;
  class: string;
  level?: 3 | 4;
  labels: ReplyLabels;
  messageMax?: number;
  fileField: (props: FileFieldProps) => ComponentChildren;
  /** What to say under the file field when sending failed because of the file (else null). */
  fileRefusal?: (failure: unknown) => string | null;
  send: SendReply;
}): JSX.Element {
  const { lang } = useT();
  const id = useId(idPrefix);
  const area = useRef<HTMLTextAreaElement>(null);
  const [text, setText] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [textError, setTextError] = useState<string | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [sent, setSent] = useState(false);
  const Heading = level === 4 ? "h4" : "h3";

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (sending) return;
    setSent(false);
    setError(null);
    if (!text.trim() && !file) {
      setTextError(labels.empty);
      area.current?.focus();
      return;
    }
    if (messageMax !== undefined && labels.tooLong && text.length > messageMax) {
      setTextError(labels.tooLong(messageMax));
      area.current?.focus();
      return;
    }
    setTextError(null);
    const body = new FormData();
    body.append("text", text);
    if (file) body.append("file", file, file.name);
    setSending(true);
    setProgress(file ? 0 : null);
    try {
      const accepted = await send(body, file ? (loaded, total) => setProgress(total ? loaded / total : null) : undefined);
      if (accepted) {
        setText("");
        setFile(null);
        setFileError(null);
        setSent(true);
      }
    } catch (failure) {
      const refusal = fileRefusal?.(failure) ?? null;
      if (refusal) setFileError(refusal);
      else setError(failure);
    } finally {
      setSending(false);
      setProgress(null);
    }
  };

  return (
    <form class={className} aria-labelledby={`${id}-title`} onSubmit={(e) => void submit(e)} noValidate>
      <Heading id={`${id}-title`}>{labels.title}</Heading>
      <div class="field">
        <label for={`${id}-text`}>{labels.text}</label>
        <textarea
          id={`${id}-text`}
          ref={area}
          rows={4}
          value={text}
          maxLength={messageMax}
          aria-invalid={textError ? "true" : undefined}
          aria-describedby={textError ? `${id}-text-error` : undefined}
          onInput={(e) => {
            setText((e.currentTarget as HTMLTextAreaElement).value);
            setTextError(null);
            setSent(false);
          }}
        />
        {textError && (
          <p class="field-error" id={`${id}-text-error`} role="alert">
            {textError}
          </p>
        )}
      </div>
      {fileField({
        id: `${id}-file`,
        file,
        onChange: (chosen) => {
          setFile(chosen);
          setSent(false);
          setError(null);
        },
        disabled: sending,
        problem: fileError,
        onProblem: setFileError,
      })}
      {sending && progress !== null && (
        <div class="reply-progress">
          <label for={`${id}-progress`}>{labels.progress}</label>
          <progress id={`${id}-progress`} max={1} value={progress} />
          <span class="hint" aria-hidden="true">
            {new Intl.NumberFormat(lang, { style: "percent" }).format(progress)}
          </span>
        </div>
      )}
      <ErrorNotice error={error} />
      {sent && (
        <div class="notice success" role="status">
          {labels.sent}
        </div>
      )}
      <button type="submit" class="button" aria-disabled={sending}>
        {sending ? labels.sending : labels.send}
      </button>
    </form>
  );
}
