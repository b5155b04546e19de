//! Newtype ids. All are UUIDv7, so they sort by creation time.

use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $entity:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> $name {
                $name(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> $name {
                $name::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::Error;
            fn from_str(text: &str) -> crate::Result<$name> {
                Uuid::parse_str(text.trim())
                    .map($name)
                    .map_err(|e| crate::Error::invalid($entity, format!("`{text}` is not an id: {e}")))
            }
        }
    };
}

id_type!(
    /// Identifies a party (person or organisation).
    PartyId,
    "party_id"
);
id_type!(
    /// Identifies a contact point.
    ContactPointId,
    "contact_point_id"
);
id_type!(
    /// Identifies a relationship edge.
    RelationshipId,
    "relationship_id"
);
id_type!(
    /// Identifies an interaction.
    InteractionId,
    "interaction_id"
);
id_type!(
    /// Identifies a task (calendar activity).
    TaskId,
    "task_id"
);
id_type!(
    /// Identifies a product.
    ProductId,
    "product_id"
);
id_type!(
    /// Identifies a quote.
    QuoteId,
    "quote_id"
);
id_type!(
    /// Identifies an order.
    OrderId,
    "order_id"
);
id_type!(
    /// Identifies a shipment.
    ShipmentId,
    "shipment_id"
);
id_type!(
    /// Identifies an opportunity.
    OpportunityId,
    "opportunity_id"
);
id_type!(
    /// Identifies a service case.
    CaseId,
    "case_id"
);
id_type!(
    /// Identifies a workflow instance.
    WorkflowId,
    "workflow_id"
);
