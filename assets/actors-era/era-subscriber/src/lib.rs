//! `era-subscriber`: a `MessageSubscriber`. Each message that has a reply subject is answered
//! there with its body upper-cased (ASCII), published with `Messaging.Publish` on link
//! `default`; a message without one is dropped.

use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_messaging::{
    MessageSubscriber, MessageSubscriberReceiver, Messaging, MessagingSender, PubMessage,
    SubMessage,
};

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, MessageSubscriber)]
struct SubscriberActor {}

#[async_trait]
impl MessageSubscriber for SubscriberActor {
    async fn handle_message(&self, ctx: &Context, msg: &SubMessage) -> RpcResult<()> {
        let Some(reply_to) = msg.reply_to.clone() else {
            return Ok(());
        };
        MessagingSender::new()
            .publish(
                ctx,
                &PubMessage {
                    subject: reply_to,
                    reply_to: None,
                    body: msg.body.to_ascii_uppercase(),
                },
            )
            .await
    }
}
