import { useState } from 'react';
import {
  Content,
  Header,
  InfoCard,
  Page,
  ProxiedSignInPage,
} from '@backstage/core-components';
import { IdentityApi, SignInPageProps } from '@backstage/core-plugin-api';
import Button from '@material-ui/core/Button';
import Grid from '@material-ui/core/Grid';
import Typography from '@material-ui/core/Typography';

/** The demo's two identities, each a development-only auth provider. */
export const DEMO_IDENTITIES = [
  {
    provider: 'guest',
    name: 'Erin Engineer',
    role: 'Engineer, owns payments',
    description:
      'Plans dev and prod, applies dev, and applies prod once someone else has approved.',
  },
  {
    provider: 'demo-approver',
    name: 'Pat Platform',
    role: 'Platform team approver',
    description: 'Approves production plans that someone else requested.',
  },
] as const;

/** Per tab, so two tabs can hold the two identities of the four-eyes flow. */
const STORAGE_KEY = 'sealed-runner:demo-identity';

/** Forgets the chosen identity on sign-out, so the picker shows again. */
function forgetOnSignOut(identity: IdentityApi): IdentityApi {
  return {
    getProfileInfo: () => identity.getProfileInfo(),
    getBackstageIdentity: () => identity.getBackstageIdentity(),
    getCredentials: () => identity.getCredentials(),
    signOut: async () => {
      sessionStorage.removeItem(STORAGE_KEY);
      await identity.signOut();
    },
  };
}

/**
 * Sign-in for the local demo: pick one of the two demo identities. Each is
 * a proxy auth provider of the backend that only works in development.
 */
export function DemoSignInPage(props: SignInPageProps) {
  const [provider, setProvider] = useState(() =>
    sessionStorage.getItem(STORAGE_KEY),
  );
  const chosen = DEMO_IDENTITIES.find(
    identity => identity.provider === provider,
  );
  if (chosen) {
    return (
      <ProxiedSignInPage
        provider={chosen.provider}
        onSignInSuccess={identity =>
          props.onSignInSuccess(forgetOnSignOut(identity))
        }
      />
    );
  }
  return (
    <Page themeId="home">
      <Header
        title="Sealed Runner demo"
        subtitle="Sign in as one of the demo identities"
      />
      <Content>
        <Grid container spacing={3}>
          {DEMO_IDENTITIES.map(identity => (
            <Grid item xs={12} sm={6} md={4} key={identity.provider}>
              <InfoCard
                title={identity.name}
                subheader={identity.role}
                actions={
                  <Button
                    color="primary"
                    variant="outlined"
                    onClick={() => {
                      sessionStorage.setItem(STORAGE_KEY, identity.provider);
                      setProvider(identity.provider);
                    }}
                  >
                    Sign in as {identity.name.split(' ')[0]}
                  </Button>
                }
              >
                <Typography variant="body1">{identity.description}</Typography>
              </InfoCard>
            </Grid>
          ))}
        </Grid>
      </Content>
    </Page>
  );
}
