//! A plugin built against `crm:plugin@0.9.0`, a contract version no host
//! knows yet: installing it must fail with a readable error.

wit_bindgen::generate!({
    inline: r#"
        package crm:plugin@0.9.0;

        interface log {
            log: func(message: string);
        }

        interface guest {
            hello: func() -> string;
        }

        world plugin {
            import log;
            export guest;
        }
    "#,
});

struct Future;

impl exports::crm::plugin::guest::Guest for Future {
    fn hello() -> String {
        crm::plugin::log::log("hello from the future");
        "hello".into()
    }
}

export!(Future);
