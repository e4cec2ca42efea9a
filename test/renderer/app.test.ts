import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import App from '../../src/renderer/App.svelte';
import { fakePlatform } from './fake-platform.ts';

describe('App frame', () => {
  it('navigates between the views that exist, and lists no unbuilt ones', async () => {
    const fake = fakePlatform();
    render(App, { props: { platform: fake.platform } });
    const nav = screen.getByRole('navigation', { name: 'Views' });
    expect(
      within(nav)
        .getAllByRole('button')
        .map((b) => b.textContent),
    ).toEqual(['Library', 'Train', 'Generate', 'Gallery', 'Companion', 'Inspect']);
    await waitFor(() => expect(screen.getByRole('region', { name: 'Library' })).toBeTruthy());
    await fireEvent.click(within(nav).getByRole('button', { name: 'Train' }));
    expect(screen.getByRole('region', { name: 'Train' })).toBeTruthy();
    expect(screen.queryByRole('region', { name: 'Library' })).toBeNull();
    await fireEvent.click(within(nav).getByRole('button', { name: 'Inspect' }));
    expect(screen.getByRole('region', { name: 'Inspect' })).toBeTruthy();
    expect(screen.getByText('browser mode')).toBeTruthy();
  });

  it('“Train on this” opens the Training view on that corpus', async () => {
    const fake = fakePlatform();
    render(App, { props: { platform: fake.platform } });
    await fireEvent.click(await screen.findByRole('button', { name: /Train on this/ }));
    const select = screen.getByLabelText('Corpus') as HTMLSelectElement;
    expect(select.value).toBe('1');
  });
});
