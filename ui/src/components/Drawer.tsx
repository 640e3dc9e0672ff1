import { useEffect, useId, useRef, type ReactNode } from 'react';

/**
 * A modal panel over the right of the page (the run detail, an error group). Focus moves to its
 * Close button when it opens and back to where it was when it closes; Escape closes it.
 */
export function Drawer({
  title,
  sub,
  closeLabel,
  onClose,
  testId,
  children,
}: {
  title: ReactNode;
  sub: ReactNode;
  closeLabel: string;
  onClose: () => void;
  testId: string;
  children: ReactNode;
}) {
  const titleId = useId();
  const closeButton = useRef<HTMLButtonElement>(null);
  // The latest onClose, without re-running the focus effect when it changes.
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;

  useEffect(() => {
    const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    closeButton.current?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        onCloseRef.current();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      if (previous?.isConnected) previous.focus();
    };
  }, []);

  return (
    <>
      <div className="drawer-backdrop" onClick={onClose} aria-hidden="true" />
      <aside className="drawer" role="dialog" aria-modal="true" aria-labelledby={titleId} data-testid={testId}>
        <header className="drawer-header">
          <h2 id={titleId}>{title}</h2>
          <span className="drawer-sub">{sub}</span>
          <button ref={closeButton} type="button" onClick={onClose} aria-label={closeLabel}>
            Close
          </button>
        </header>
        {children}
      </aside>
    </>
  );
}
