import type { WidgetContext } from "../core/context";

export function mountPopups(_ctx: WidgetContext, _container: HTMLElement): void {}
