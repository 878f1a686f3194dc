/**
 * How a waiting chat reaches a specialist who is looking elsewhere: "(N) " before the page title
 * while chats wait and the page is hidden or another console view is shown, and a short tone (Web
 * Audio, no file) for each new chat in the queue — only after the specialist has interacted with
 * the page, as browsers allow audio only then, and only while the sound is on.
 */
import { Store } from "../../widget/core/store";
import type { ConsoleContext } from "../context";
import type { Desk } from "./desk";

const PREFIX = /^\(\d+\) /;

export class Signals {
  readonly sound = new Store(true);
  private audio: AudioContext | null = null;
  private interacted = false;
  private readonly baseTitle: string;
  private readonly stops: Array<() => void> = [];

  constructor(
    private readonly ctx: ConsoleContext,
    private readonly desk: Desk,
  ) {
    this.baseTitle = document.title.replace(PREFIX, "");
    const title = (): void => this.updateTitle();
    const onVisibility = (): void => this.updateTitle();
    const onInteract = (): void => {
      this.interacted = true;
    };
    document.addEventListener("visibilitychange", onVisibility);
    window.addEventListener("pointerdown", onInteract, true);
    window.addEventListener("keydown", onInteract, true);
    this.stops.push(
      desk.waitingCount.subscribe(title),
      ctx.route.subscribe(title),
      desk.arrivals.subscribe(() => this.chime()),
      () => document.removeEventListener("visibilitychange", onVisibility),
      () => window.removeEventListener("pointerdown", onInteract, true),
      () => window.removeEventListener("keydown", onInteract, true),
    );
    this.updateTitle();
  }

  updateTitle(): void {
    const count = this.desk.waitingCount.value;
    const away = document.hidden || this.ctx.route.value.view !== "chats";
    const base = document.title.replace(PREFIX, "") || this.baseTitle;
    document.title = count > 0 && away ? `(${new Intl.NumberFormat(this.ctx.lang.value).format(count)}) ${base}` : base;
  }

  /** A 0.18 s two-note tone, quiet, with a soft envelope so it does not click. */
  chime(): void {
    if (!this.sound.value || !this.interacted || typeof AudioContext === "undefined") return;
    try {
      this.audio ??= new AudioContext();
      const audio = this.audio;
      if (audio.state === "suspended") void audio.resume();
      const start = audio.currentTime + 0.01;
      const gain = audio.createGain();
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.15, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.18);
      gain.connect(audio.destination);
      const tone = audio.createOscillator();
      tone.type = "sine";
      tone.frequency.setValueAtTime(880, start);
      tone.frequency.setValueAtTime(1175, start + 0.09);
      tone.connect(gain);
      tone.start(start);
      tone.stop(start + 0.2);
    } catch {
      /* no audio device: the title and the live region still tell */
    }
  }

  destroy(): void {
    for (const stop of this.stops.splice(0)) stop();
    document.title = document.title.replace(PREFIX, "");
    void this.audio?.close();
    this.audio = null;
  }
}
