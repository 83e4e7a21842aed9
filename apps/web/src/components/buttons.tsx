/** A small button that flips a setting: "Mute Ada" while off, "Unmute Ada" while on. */
export function ToggleButton(props: { on: boolean; verb: [off: string, on: string]; subject: string; onToggle: () => void }) {
  const label = props.on ? props.verb[1] : props.verb[0];
  return (
    <button type="button" class="small" aria-label={`${label} ${props.subject}`} onClick={props.onToggle}>
      {label}
    </button>
  );
}

/** The button under a paged list that loads its next page; nothing when the last page is shown. */
export function MoreButton(props: { cursor: string | null; label: string; onMore: () => Promise<void> }) {
  if (props.cursor === null) return null;
  return (
    <button type="button" onClick={() => void props.onMore()}>
      {props.label}
    </button>
  );
}
