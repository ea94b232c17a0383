import { renderInTestApp } from '@backstage/frontend-test-utils';
import { fireEvent, screen } from '@testing-library/react';
import { DemoSignInPage } from './DemoSignInPage';

describe('DemoSignInPage', () => {
  beforeEach(() => sessionStorage.clear());

  it('offers both demo identities with what each may do', async () => {
    await renderInTestApp(<DemoSignInPage onSignInSuccess={jest.fn()} />);
    expect(screen.getByText('Erin Engineer')).toBeInTheDocument();
    expect(screen.getByText('Engineer, owns payments')).toBeInTheDocument();
    expect(screen.getByText('Pat Platform')).toBeInTheDocument();
    expect(screen.getByText('Platform team approver')).toBeInTheDocument();
  });

  it('remembers the chosen identity for this tab', async () => {
    await renderInTestApp(<DemoSignInPage onSignInSuccess={jest.fn()} />);
    fireEvent.click(screen.getByRole('button', { name: 'Sign in as Pat' }));
    expect(sessionStorage.getItem('sealed-runner:demo-identity')).toBe(
      'demo-approver',
    );
    expect(screen.queryByText('Pat Platform')).not.toBeInTheDocument();
  });
});
