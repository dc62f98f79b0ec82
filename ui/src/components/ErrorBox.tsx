import type { ComponentChildren } from "preact";
import type { IpcError } from "../api/types";
import { Icon } from "./Icon";

/**
 * An error in plain words, with optional technical details folded away.
 * `past`: an error that happened earlier (a failed answer in the history):
 * shown the same, but not announced as something happening now.
 */
export function ErrorBox(props: {
  error: Pick<IpcError, "message" | "details">;
  title?: string;
  children?: ComponentChildren;
  past?: boolean;
}) {
  return (
    <div class="error-box" role={props.past ? "note" : "alert"} data-testid={props.past ? "past-error" : undefined}>
      <Icon name="alert" />
      <div class="error-body">
        {props.title && <strong class="error-title">{props.title}</strong>}
        <p class="error-message">{props.error.message}</p>
        {props.error.details && (
          <details class="error-details">
            <summary>Details</summary>
            <pre>{props.error.details}</pre>
          </details>
        )}
        {props.children && <div class="error-actions">{props.children}</div>}
      </div>
    </div>
  );
}
