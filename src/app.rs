//! The application: built once from a config by both `main` and the tests.

use std::net::SocketAddr;
use std::sync::Arc;

use governor::{Quota, RateLimiter};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::audit::sealer::Sealer;
use crate::auth::ApiAuth;
use crate::bindings::BindingStore;
use crate::config::Config;
use crate::directory::ResponderDirectory;
use crate::elevation::policy::Role;
use crate::elevation::Elevation;
use crate::grants::Accounts;
use crate::http::{self, AppState, Shared};
use crate::incidents::IncidentStore;
use crate::metrics::Metrics;
use crate::revocation::{worker, Reconciler, Revoker};
use crate::store::Store;
use crate::webhooks::intake::Intake;

/// A running service: its bound address and a way to stop it.
pub struct App {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    scheduler: JoinHandle<()>,
    reconciler: JoinHandle<()>,
    sealer: JoinHandle<()>,
}

/// Stops a running [`App`] gracefully (in-flight requests finish).
#[derive(Clone)]
pub struct ShutdownHandle(watch::Sender<bool>);

impl ShutdownHandle {
    pub fn shutdown(&self) {
        let _ = self.0.send(true);
    }
}

impl AppState {
    /// Wire every part together from a validated config. Connects to Redis lazily.
    pub async fn build(config: Config) -> anyhow::Result<AppState> {
        crate::startup::check(&config)?;
        Ok(Self::assemble(config).await?.0)
    }

    /// [`AppState::build`], also handing back the IAM adapter and the revoker for the
    /// background tasks.
    async fn assemble(config: Config) -> anyhow::Result<(AppState, Accounts, Arc<Revoker>)> {
        let metrics = Arc::new(Metrics::new());
        let store = Store::connect(&config.redis, metrics.redis_errors.clone())?;
        let incidents = IncidentStore::new(store.clone(), config.redis.dedupe_ttl.into())
            .revoke_on_unassign(config.revocation.revoke_on_unassign);
        let directory = Arc::new(ResponderDirectory::new(
            &config.responders,
            config.aws.identity_center.as_ref(),
        ));
        let kick = Arc::new(Notify::new());
        let intake = Arc::new(Intake::new(
            &config.sources,
            incidents.clone(),
            directory.clone(),
            kick.clone(),
        ));
        let accounts =
            Accounts::from_config(&config.aws, metrics.account_credentials.clone()).await;
        let per_minute = std::num::NonZeroU32::new(config.elevation.requests_per_minute)
            .unwrap_or(std::num::NonZeroU32::MIN);
        let elevation_limiter = Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute)));
        let roles = config.roles.iter().cloned().map(Role::new).collect();
        let bindings = BindingStore::new(store.clone());
        let revoker = Arc::new(Revoker::new(
            bindings.clone(),
            accounts.clone(),
            metrics.clone(),
            kick,
        ));
        let elevation = Arc::new(Elevation::new(
            bindings,
            incidents.clone(),
            accounts.clone(),
            roles,
            directory,
            &config.elevation,
            revoker.clone(),
        ));
        let api_auth = Arc::new(ApiAuth::from_config(&config.auth)?);
        let state = AppState::new(Shared {
            config: Arc::new(config),
            store,
            incidents,
            intake,
            elevation,
            elevation_limiter,
            api_auth,
            metrics,
        });
        Ok((state, accounts, revoker))
    }
}

impl App {
    /// Bind the listener (port 0 picks a free one) and start serving. The config's own checks
    /// ran when it was parsed; the checks of the parts that use it run here, before anything
    /// starts ([`crate::startup::check`]).
    pub async fn build(config: Config) -> anyhow::Result<App> {
        crate::startup::check(&config)?;
        let listener = TcpListener::bind(config.server.listen).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {} ({e}); pick a free address in [server] listen or BREAKGLASS_LISTEN",
                config.server.listen
            )
        })?;
        let addr = listener.local_addr()?;
        let (state, accounts, revoker) = AppState::assemble(config).await?;
        live_bindings_have_accounts(&BindingStore::new(state.store.clone()), &accounts).await?;
        let (stop, mut stopped) = watch::channel(false);
        let scheduler = tokio::spawn(worker::run(
            revoker,
            worker::Settings::from(&state.config.revocation),
            stop.subscribe(),
        ));
        let reconciler = Reconciler::new(
            accounts,
            BindingStore::new(state.store.clone()),
            state.store.clone(),
            state.config.revocation.reconcile_interval.into(),
            state.metrics.clone(),
        );
        let reconciler = tokio::spawn(reconciler.run(stop.subscribe()));
        if state.config.audit.key.is_none() {
            tracing::warn!("no [audit] key is set: the audit chain is computed but not sealed, so someone with write access to Redis could rewrite history and recompute it unnoticed");
        }
        let sealer = Sealer::new(
            state.store.clone(),
            crate::audit::chain::Keys::from_config(&state.config.audit),
            state.config.audit.seal_interval.into(),
            state.metrics.clone(),
        );
        let sealer = tokio::spawn(sealer.run(stop.subscribe()));
        let service = http::router(state).into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move {
            axum::serve(listener, service)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
        });
        Ok(App {
            addr,
            stop,
            server,
            scheduler,
            reconciler,
            sealer,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.stop.clone())
    }

    /// Wait until the server stops (after a shutdown request).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.server.await??;
        let _ = self.stop.send(true);
        self.scheduler.await?;
        self.reconciler.await?;
        self.sealer.await?;
        Ok(())
    }
}

/// Refuse to start when a live binding's account is no longer in the catalogue: its role could
/// then never be revoked. If Redis cannot be read yet the check is skipped with a warning; the
/// revocation of such a binding fails (and is retried) naming the account.
async fn live_bindings_have_accounts(
    bindings: &BindingStore,
    accounts: &Accounts,
) -> anyhow::Result<()> {
    let live = match bindings.scheduled_accounts().await {
        Ok(live) => live,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the live bindings' accounts at start-up; not checked");
            return Ok(());
        }
    };
    for (account, count) in live {
        if accounts.get(&account).is_none() {
            anyhow::bail!(
                "account `{account}` holds {count} live binding(s) but is not in [[aws.accounts]]; \
                 put it back until they end (breakglass revokes them there), then remove it"
            );
        }
    }
    Ok(())
}
