//! The dashboard served on 127.0.0.1 with an OS-assigned port, with the feeder that keeps its
//! search index in step with the store (as `patroli serve` runs them), until [`Dashboard::stop`].

use patroli_dashboard::AppState;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct Dashboard {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
    feeder: JoinHandle<()>,
}

impl Dashboard {
    pub async fn start(state: AppState) -> Dashboard {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port on 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().expect("bound address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let (stop_feeder, feeder_stopped) = oneshot::channel::<()>();
        let feeder = tokio::spawn(patroli_index::feed(
            state.index.clone(),
            state.store.clone(),
            async {
                let _ = feeder_stopped.await;
            },
        ));
        let server = tokio::spawn(patroli_dashboard::serve(listener, state, async move {
            let _ = stopped.await;
            let _ = stop_feeder.send(());
        }));
        Dashboard {
            base,
            stop,
            server,
            feeder,
        }
    }

    /// Shuts the server and the feeder down and checks that both ended cleanly.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.server
            .await
            .expect("the dashboard task ends")
            .expect("the dashboard shuts down cleanly");
        self.feeder.await.expect("the feeder task ends");
    }
}
