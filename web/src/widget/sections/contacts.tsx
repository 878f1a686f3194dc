/**
 * Contacts and hours: support's phones and e-mails, and for each topic whether it is answered now
 * and when it next opens (or closes), in the user's own time and, where its clock differs, in the time
 * of the topic's schedule, named by its zone. All of it comes from the support directory, which support's admins manage; nothing here is hard-coded.
 */
import type { JSX } from "preact";
import { loadDirectory, sayWhen, scheduleZone, type SupportDirectory, type TopicHours } from "../core/hours";
import { register } from "../core/i18n";
import { hoursStrings } from "../i18n/hours";
import { useLatest, useT, useWidget } from "../panel/hooks";
import { ErrorNotice, Spinner } from "../panel/ui";

register(hoursStrings);

function Hours({ topic, zone }: { topic: TopicHours; zone: string | undefined }): JSX.Element {
  const { t, lang } = useT();
  let detail: string;
  if (topic.open_now) {
    detail =
      topic.always_open || !topic.closes_at ? t("hours.open.always") : sayWhen(t, "hours.closes", lang, topic.closes_at.utc, zone);
  } else {
    detail = topic.opens_at ? sayWhen(t, "hours.opens", lang, topic.opens_at.utc, zone) : t("hours.never");
  }
  return (
    <li class="hours-topic" data-open={topic.open_now ? "true" : "false"}>
      <span class="hours-name">{topic.name}</span>
      <span class={topic.open_now ? "hours-state open" : "hours-state closed"}>
        {topic.open_now ? t("hours.open") : t("hours.closed")}
      </span>
      <span class="hint">{detail}</span>
      <a href={`mailto:${topic.email}`}>{topic.email}</a>
    </li>
  );
}

export function ContactsSection(): JSX.Element {
  const ctx = useWidget();
  const { t, lang } = useT();
  const { data, error, reload } = useLatest(`directory|${lang}`, (signal) => loadDirectory(ctx.api, lang, signal));
  if (error) return <ErrorNotice error={error} onRetry={reload} />;
  if (!data) return <Spinner label={t("common.loading")} />;
  return <ContactsView data={data} heading={<h3 id="hd-contacts-title">{t("hours.title")}</h3>} />;
}

/** The directory as shown: in the Help panel and on the public /support/ page alike. */
export function ContactsView({ data, heading }: { data: SupportDirectory; heading: JSX.Element }): JSX.Element {
  const { t } = useT();
  return (
    <div class="contacts">
      {heading}
      <section aria-labelledby="hd-contacts-phones">
        <h4 id="hd-contacts-phones">{t("hours.phones")}</h4>
        <ul class="contact-list">
          {data.phones.map((phone) => (
            <li key={phone.number}>
              <a href={`tel:${phone.number.replace(/[^+\d]/g, "")}`} aria-label={t("hours.call", { number: phone.number })}>
                {phone.number}
              </a>
              <span class="hint">{phone.note}</span>
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="hd-contacts-emails">
        <h4 id="hd-contacts-emails">{t("hours.emails")}</h4>
        <ul class="contact-list">
          {data.emails.map((email) => (
            <li key={email.email}>
              <a href={`mailto:${email.email}`} aria-label={t("hours.write", { email: email.email })}>
                {email.email}
              </a>
              <span class="hint">{email.subject}</span>
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="hd-contacts-hours">
        <h4 id="hd-contacts-hours">{t("hours.topics")}</h4>
        <ul class="hours-list">
          {data.topics.map((topic) => (
            <Hours key={topic.id} topic={topic} zone={scheduleZone(data, topic.id)} />
          ))}
        </ul>
      </section>
    </div>
  );
}
